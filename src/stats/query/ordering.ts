export type Direction = 'asc' | 'desc';

export interface SortKey<Row> {
  value: (row: Row) => number | string | null;
  direction: Direction;
}

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

/**
 * Sorts by each key in turn; strings compare case-insensitively (natural order for numbers in
 * them) and nulls go last whatever the direction, so "Unknown" never tops a list.
 */
export function sortRows<Row>(rows: Row[], keys: SortKey<Row>[]): Row[] {
  return [...rows].sort((a, b) => {
    for (const key of keys) {
      const order = compareValues(key.value(a), key.value(b), key.direction);
      if (order !== 0) return order;
    }
    return 0;
  });
}

function compareValues(a: number | string | null, b: number | string | null, direction: Direction): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const order =
    typeof a === 'number' && typeof b === 'number' ? a - b : collator.compare(String(a), String(b)) || (a < b ? -1 : 1);
  return direction === 'asc' ? order : -order;
}

export function paginate<Row>(rows: Row[], page: number, limit: number): Row[] {
  return rows.slice((page - 1) * limit, page * limit);
}
