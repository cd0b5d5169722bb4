import { withoutNullFields } from '../common/collections/without-null-fields.js';

/**
 * Fields written even when null. `visitId` is null only until the sessionizer stamps the hit,
 * moments after the write, so leaving it out would save nothing at rest; written null, an
 * unsessionized hit groups with the others by `visitId` as it always has.
 */
const KEPT_WHEN_NULL: ReadonlySet<string> = new Set(['visitId']);

/**
 * A hit as `hits` stores it: every optional field without a value (null: no referrer, no UTM
 * tag, no revenue, no bot reason, …) is left out rather than stored as null, which took about a
 * quarter of a typical hit's bytes (docs/storage.md, "Fields without a value"). Reads treat an
 * absent field and a null one alike, so hits stored before, with their nulls, keep working.
 */
export function storedHit<T extends object>(hit: T): T {
  return withoutNullFields(hit, KEPT_WHEN_NULL);
}
