import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { isCompleteRecord, parseCsvRecord } from './csv.js';

export type HitFileFormat = 'ndjson' | 'csv';

/** One line (NDJSON) or row (CSV) of an import file. */
export interface HitRecord {
  /** 1-based line number where the record starts. */
  line: number;
  /** The record's text as it appears in the file, for the derived eventId. */
  text: string;
  /** The parsed object, or why it could not be parsed. */
  value: Record<string, unknown> | string;
  /** Bytes of the file read so far, for progress. */
  bytesRead: number;
}

export function formatOfFile(path: string): HitFileFormat {
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(ndjson|jsonl|json)$/i.test(path)) return 'ndjson';
  throw new Error(`${path}: the file must end in .ndjson, .jsonl or .csv`);
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Streams the records of an NDJSON or CSV (header row first) file, one line in memory at a time. */
export async function* readHitRecords(path: string, format: HitFileFormat): AsyncGenerator<HitRecord> {
  const stream = createReadStream(path);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNumber = 0;
  let header: string[] | undefined;
  let pending: { line: number; text: string } | undefined;
  for await (const line of lines) {
    lineNumber++;
    if (format === 'ndjson') {
      if (line.trim() === '') continue;
      yield { line: lineNumber, text: line, value: parseJsonLine(line), bytesRead: stream.bytesRead };
      continue;
    }
    const record = pending
      ? { line: pending.line, text: `${pending.text}\n${line}` }
      : { line: lineNumber, text: line };
    if (!isCompleteRecord(record.text)) {
      pending = record;
      continue;
    }
    pending = undefined;
    if (record.text.trim() === '') continue;
    if (!header) {
      header = parseCsvRecord(record.text).map((name) => name.trim());
      continue;
    }
    yield { ...record, value: csvRowObject(header, parseCsvRecord(record.text)), bytesRead: stream.bytesRead };
  }
  if (pending) yield { ...pending, value: 'unterminated quoted field', bytesRead: stream.bytesRead };
}

function parseJsonLine(line: string): Record<string, unknown> | string {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : 'hit must be a JSON object';
  } catch {
    return 'line is not valid JSON';
  }
}

/** Empty cells are absent fields; `props` holds a JSON object. */
function csvRowObject(header: string[], cells: string[]): Record<string, unknown> | string {
  if (cells.length !== header.length) return `row has ${cells.length} fields, the header ${header.length}`;
  const row: Record<string, unknown> = {};
  for (const [index, name] of header.entries()) {
    const cell = cells[index];
    if (cell === '') continue;
    if (name === 'props') {
      try {
        row.props = JSON.parse(cell) as unknown;
      } catch {
        return 'props: props must be a JSON object';
      }
    } else row[name] = cell;
  }
  return row;
}
