/**
 * Stored names of the visitor rows' (stats_visitor_days, stats_visitor_sets) fields on every row
 * (visitor, classification, the two sums) and of the `visitor` set's hit times: about one visitor
 * row per hit, where the long names took 35 B a row more (docs/storage.md, "Derived rows"). The
 * code, the query conditions and the group keys name these fields as hits do (`filterCondition`,
 * `dimensionKeys`, the raw-hit parts of a read), so every write and read of a visitor row goes
 * through the functions below, and this map is the one place that says how a field is stored.
 * The dimension fields (`path`, `countryCode`, …) and `day` keep their hit names. Changing a
 * stored name needs a new row version (ROLLUP_VERSION).
 */
const STORED_NAMES: Readonly<Record<string, string>> = {
  visitorKey: 'v',
  classification: 'c',
  pageviews: 'p',
  events: 'e',
  firstTs: 's',
  lastTs: 'l',
  identified: 'i',
};

const CODE_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(STORED_NAMES).map(([name, stored]) => [stored, name]),
);

/** The name a visitor-row field is stored under. */
export function storedVisitorRowField(field: string): string {
  return STORED_NAMES[field] ?? field;
}

/** A field of a visitor row in an aggregation expression (`$v` for `visitorKey`, …). */
export function visitorRowPath(field: string): string {
  return `$${storedVisitorRowField(field)}`;
}

/** A document (key fields, sums, projection, sort) with its field names as a visitor row stores them. */
export function storedVisitorRowFields<T>(fields: Readonly<Record<string, T>>): Record<string, T> {
  return renamed(fields, STORED_NAMES);
}

/** A visitor row as stored, read back under the names the code uses. */
export function visitorRowOf<T extends object>(stored: Readonly<Record<string, unknown>>): T {
  return renamed(stored, CODE_NAMES) as T;
}

/**
 * The document with its fields renamed by `names` (others kept), in the same order. Every visitor
 * row written and every history row the counts read goes through here: a loop, where building
 * and reading back an array of entries per row showed in the rollup job's profile.
 */
function renamed<T>(document: Readonly<Record<string, T>>, names: Readonly<Record<string, string>>): Record<string, T> {
  const result: Record<string, T> = {};
  for (const field of Object.keys(document)) result[names[field] ?? field] = document[field];
  return result;
}

/**
 * A query condition written with hit field names (`{ classification: 'USER' }`, a filter's
 * `$in`, `$nin`, `$regex`, nested in `$and`, `$or`, `$nor`) as a condition on visitor rows.
 * Values are left alone. No visitor-row read filters on a property, so an `$expr` (which would
 * name fields inside values) is refused rather than read wrong.
 */
export function visitorRowCondition(condition: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(condition).map(([key, value]) => {
      if (key === '$and' || key === '$or' || key === '$nor')
        return [key, (value as Array<Record<string, unknown>>).map((part) => visitorRowCondition(part))];
      if (key.startsWith('$')) throw new Error(`visitor rows take no ${key} condition`);
      return [storedVisitorRowField(key), value];
    }),
  );
}
