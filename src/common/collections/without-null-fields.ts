/**
 * A copy of `document` without its null-valued top-level fields, but for those in `kept`: how
 * hits and visits store an optional field without a value (docs/storage.md, "Fields without a
 * value"). Every read treats an absent field as null, so documents stored with nulls still read
 * the same.
 */
export function withoutNullFields<T extends object>(document: T, kept: ReadonlySet<string>): T {
  const stored: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(document)) {
    if (value !== null || kept.has(field)) stored[field] = value;
  }
  return stored as T;
}
