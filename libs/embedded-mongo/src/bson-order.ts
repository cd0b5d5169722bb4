import type { Binary, ObjectId, Timestamp } from 'bson';

/**
 * BSON value ordering (MongoDB's "comparison/sort order") and a canonical string form for
 * hashing. Index keys and `_id` lookups rely on both; mingo only sees documents afterwards.
 */

type BsonTagged = { _bsontype: string };

function bsonType(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && '_bsontype' in value
    ? (value as BsonTagged)._bsontype
    : undefined;
}

/** Numeric value of int/long/double wrappers, or undefined when the value is not a number. */
function numericValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  const type = bsonType(value);
  if (type === 'Long' || type === 'Int32' || type === 'Double' || type === 'Decimal128') {
    return Number((value as { toString(): string }).toString());
  }
  return undefined;
}

/** Rank of a value's canonical BSON type; numbers of every width share one rank. */
function typeRank(value: unknown): number {
  if (value === undefined || value === null) return 5;
  if (numericValue(value) !== undefined) return 10;
  if (typeof value === 'string') return 15;
  if (typeof value === 'boolean') return 40;
  if (value instanceof Date) return 45;
  if (value instanceof RegExp) return 50;
  if (Array.isArray(value)) return 25;
  switch (bsonType(value)) {
    case 'MinKey':
      return 1;
    case 'BSONSymbol':
      return 15;
    case 'Binary':
      return 30;
    case 'ObjectId':
      return 35;
    case 'Timestamp':
      return 47;
    case 'BSONRegExp':
      return 50;
    case 'Code':
      return 60;
    case 'MaxKey':
      return 100;
    default:
      return 20;
  }
}

function compareScalars(a: number | string | bigint, b: number | string | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * Compares two BSON values the way MongoDB orders them in indexes and sorts; `strings`, when
 * given, orders strings at any depth (a collation), otherwise they compare by code unit.
 */
export function compareBson(a: unknown, b: unknown, strings?: (a: string, b: string) => number): number {
  // Fast path for the overwhelmingly common index keys.
  if (typeof a === 'string' && typeof b === 'string') return strings ? strings(a, b) : a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number' && a === a && b === b) return a < b ? -1 : a > b ? 1 : 0;
  // Dates (ts, receivedAt) and ObjectIds (siteId) lead most compound keys.
  if (a instanceof Date && b instanceof Date) return compareScalars(a.getTime(), b.getTime());
  if (isObjectId(a) && isObjectId(b)) return compareObjectIds(a, b);
  // BinData keys the rollup rows (their `_id` index).
  if (isBinary(a) && isBinary(b)) return compareBinaries(a, b);
  const rankA = typeRank(a);
  const rankB = typeRank(b);
  if (rankA !== rankB) return rankA - rankB;
  switch (rankA) {
    case 1:
    case 5:
    case 100:
      return 0;
    case 10: {
      const x = numericValue(a) as number;
      const y = numericValue(b) as number;
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
      if (Number.isNaN(y)) return 1;
      return compareScalars(x, y);
    }
    case 15:
      return compareScalars(String(a), String(b));
    case 25: {
      const x = a as unknown[];
      const y = b as unknown[];
      const length = Math.min(x.length, y.length);
      for (let i = 0; i < length; i++) {
        const c = compareBson(x[i], y[i], strings);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case 30:
      return compareBinaries(a as Binary, b as Binary);
    case 35:
      return compareObjectIds(a as ObjectId, b as ObjectId);
    case 40:
      return Number(a) - Number(b);
    case 45:
      return compareScalars((a as Date).getTime(), (b as Date).getTime());
    case 47:
      return compareScalars((a as Timestamp).toBigInt(), (b as Timestamp).toBigInt());
    case 20:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>, strings);
    default:
      return compareScalars(String(a), String(b));
  }
}

type ObjectIdWords = Partial<Record<'i0' | 'i1' | 'i2' | 'i3', number>>;

/**
 * bson 7 keeps an ObjectId as four 24-bit words and allocates a fresh Buffer on every `.id`
 * read, which made index maintenance allocation-bound. Compare the words when present.
 */
function isObjectId(value: unknown): value is ObjectId {
  return typeof value === 'object' && value !== null && (value as Partial<BsonTagged>)._bsontype === 'ObjectId';
}

function isBinary(value: unknown): value is Binary {
  return typeof value === 'object' && value !== null && (value as Partial<BsonTagged>)._bsontype === 'Binary';
}

/** MongoDB's BinData order: length, then subtype, then bytes. */
function compareBinaries(a: Binary, b: Binary): number {
  return a.position - b.position || a.sub_type - b.sub_type || compareBytes(a.buffer, b.buffer);
}

function compareObjectIds(a: ObjectId, b: ObjectId): number {
  const x = a as unknown as ObjectIdWords;
  const y = b as unknown as ObjectIdWords;
  if (typeof x.i0 === 'number' && typeof y.i0 === 'number') {
    return x.i0 - y.i0 || x.i1! - y.i1! || x.i2! - y.i2! || x.i3! - y.i3!;
  }
  return compareScalars(a.toHexString(), b.toHexString());
}

function compareObjects(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  strings: ((a: string, b: string) => number) | undefined,
): number {
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  const length = Math.min(keysA.length, keysB.length);
  for (let i = 0; i < length; i++) {
    const byType = typeRank(a[keysA[i]]) - typeRank(b[keysB[i]]);
    if (byType !== 0) return byType;
    const byName = compareScalars(keysA[i], keysB[i]);
    if (byName !== 0) return byName;
    const byValue = compareBson(a[keysA[i]], b[keysB[i]], strings);
    if (byValue !== 0) return byValue;
  }
  return keysA.length - keysB.length;
}

/**
 * Whether `canonicalKey(a) === canonicalKey(b)`, decided without building either string: an
 * update reports a document modified when its canonical key changed, and building two keys of a
 * whole document per updated document (every replacement of a visit, every pipeline update of
 * the sessionizer's claims) allocated strings the size of the document only to compare them.
 */
export function sameCanonicalKey(a: unknown, b: unknown): boolean {
  const rank = typeRank(a);
  if (rank !== typeRank(b)) return false;
  switch (rank) {
    case 5:
      return true;
    case 10: {
      // `n${x}`: number-to-string is one-to-one but for -0 (written as 0 there) and NaN.
      const x = numericValue(a) as number;
      const y = numericValue(b) as number;
      return x === y || (x !== x && y !== y);
    }
    case 35:
      return compareObjectIds(a as ObjectId, b as ObjectId) === 0;
    case 40:
      return Boolean(a) === Boolean(b);
    case 45: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return x === y || (x !== x && y !== y);
    }
    case 25: {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!sameCanonicalKey(x[i], y[i])) return false;
      return true;
    }
    case 30: {
      const x = a as Binary;
      const y = b as Binary;
      return x.sub_type === y.sub_type && compareBytes(x.buffer, y.buffer) === 0;
    }
    case 20: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const keysA = Object.keys(x);
      const keysB = Object.keys(y);
      if (keysA.length !== keysB.length) return false;
      for (let i = 0; i < keysA.length; i++) {
        if (keysA[i] !== keysB[i] || !sameCanonicalKey(x[keysA[i]], y[keysB[i]])) return false;
      }
      return true;
    }
    default:
      // Strings (`s…`) and every other type (`r<rank>:…`) are keyed by their string form.
      return String(a) === String(b);
  }
}

/**
 * An element's or field's key inside an array's or document's: length-prefixed, so a string
 * holding `,` or `"b":` cannot make `{ a: 'x,"b":sy' }` read like `{ a: 'x', b: 'y' }`.
 */
function nestedKey(value: unknown): string {
  const key = canonicalKey(value);
  return `${key.length}:${key}`;
}

/**
 * A string that is equal for two values exactly when MongoDB considers them equal as keys
 * (1, 1.0 and Long(1) collapse; "1" and 1 do not). Used for `_id` maps and unique checks.
 */
export function canonicalKey(value: unknown): string {
  const rank = typeRank(value);
  switch (rank) {
    case 5:
      return 'z';
    case 10: {
      const n = numericValue(value) as number;
      return `n${Object.is(n, -0) ? 0 : n}`;
    }
    case 15:
      return `s${String(value)}`;
    case 35:
      return `o${(value as ObjectId).toHexString()}`;
    case 40:
      return value ? 'b1' : 'b0';
    case 45:
      return `d${(value as Date).getTime()}`;
    case 25:
      return `a[${(value as unknown[]).map(nestedKey).join(',')}]`;
    case 30: {
      // A view of the bytes, not `Buffer.from(bytes)`'s copy: rollup rows are keyed by BinData.
      const bytes = (value as Binary).buffer;
      return `x${(value as Binary).sub_type}:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
    }
    case 20: {
      const object = value as Record<string, unknown>;
      return `{${Object.keys(object)
        .map((key) => `${JSON.stringify(key)}:${nestedKey(object[key])}`)
        .join(',')}}`;
    }
    default:
      return `r${rank}:${String(value)}`;
  }
}
