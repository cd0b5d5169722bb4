import type { Document } from 'bson';

export function isPlainObject(value: unknown): value is Document {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * All values a dotted path reaches, descending into arrays the way MongoDB's multikey
 * indexes do: `{a:[{b:1},{b:2}]}` at `a.b` gives [1, 2]; a terminal array gives its elements.
 * An empty result means the field is missing.
 */
export function valuesAtPath(doc: unknown, path: string | string[]): unknown[] {
  return collect(doc, typeof path === 'string' ? path.split('.') : path, 0);
}

function collect(value: unknown, parts: string[], depth: number): unknown[] {
  if (depth === parts.length) {
    if (Array.isArray(value)) return value.length === 0 ? [undefined] : value;
    return [value];
  }
  if (Array.isArray(value)) {
    return value.flatMap((element) => (isPlainObject(element) ? collect(element, parts, depth) : []));
  }
  if (!isPlainObject(value) || !(parts[depth] in value)) return [];
  return collect(value[parts[depth]], parts, depth + 1);
}

/** Sets a dotted path, creating intermediate objects; used to build upserted documents. */
export function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let current: Document = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(current[part])) current[part] = {};
    current = current[part] as Document;
  }
  current[parts[parts.length - 1]] = value;
}

/**
 * Deep copy of plain objects and arrays; BSON value classes are shared because nothing
 * mutates them. Stored documents are copied before mingo's update or aggregation sees them.
 */
export function cloneDocument<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneDocument) as T;
  if (isPlainObject(value)) {
    const copy: Document = {};
    for (const key of Object.keys(value)) copy[key] = cloneDocument(value[key]);
    return copy as T;
  }
  if (value instanceof Date) return new Date(value.getTime()) as T;
  return value;
}
