/**
 * RFC 4180 CSV: comma-separated, fields with commas, quotes or line breaks in double quotes,
 * a quote inside a quoted field doubled.
 */

/** Splits one complete record; `isCompleteRecord` tells whether a quoted field still runs on. */
export function parseCsvRecord(record: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < record.length; index++) {
    const char = record[index];
    if (quoted) {
      if (char === '"' && record[index + 1] === '"') {
        field += '"';
        index++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      fields.push(field);
      field = '';
    } else field += char;
  }
  fields.push(field);
  return fields;
}

/** False while a record read line by line has an unterminated quoted field. */
export function isCompleteRecord(record: string): boolean {
  let quotes = 0;
  for (const char of record) if (char === '"') quotes++;
  return quotes % 2 === 0;
}

export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatCsvRecord(values: string[]): string {
  return values.map(formatCsvField).join(',');
}
