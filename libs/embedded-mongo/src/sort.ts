import type { Document } from 'bson';
import { compareBson } from './bson-order.js';
import { valuesAtPath } from './paths.js';

/**
 * MongoDB sort semantics: BSON type order (mingo puts ObjectId after Date), and an array
 * field sorts by its smallest element ascending and its largest descending. Stable.
 */
export function sortDocuments<T extends Document>(
  docs: T[],
  spec: Document,
  strings?: (a: string, b: string) => number,
): T[] {
  const fields = Object.entries(spec).map(([path, direction]) => ({
    path: path.split('.'),
    direction: direction === -1 ? -1 : 1,
  }));
  const keyed = docs.map((doc, position) => ({
    doc,
    position,
    keys: fields.map(({ path, direction }) => sortKey(valuesAtPath(doc, path), direction, strings)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < fields.length; i++) {
      const c = compareBson(a.keys[i], b.keys[i], strings) * fields[i].direction;
      if (c !== 0) return c;
    }
    return a.position - b.position;
  });
  return keyed.map((entry) => entry.doc);
}

function sortKey(values: unknown[], direction: number, strings?: (a: string, b: string) => number): unknown {
  if (values.length === 0) return null;
  let best = values[0] ?? null;
  for (let i = 1; i < values.length; i++) {
    const value = values[i] ?? null;
    if (compareBson(value, best, strings) * direction < 0) best = value;
  }
  return best;
}
