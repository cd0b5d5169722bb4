import { withoutNullFields } from '../common/collections/without-null-fields.js';

/** No field of an engagement record is written null: none is filled in after the write. */
const KEPT_WHEN_NULL: ReadonlySet<string> = new Set();

/**
 * An engagement record as `engagements` stores it: like a hit (storedHit), every optional field
 * without a value (no referrer, no UTM tag, no place, no user key, …) is left out rather than
 * stored as null (docs/storage.md, "Fields without a value"). The engagement pipeline reads an
 * absent field and a null one alike, so records stored before, with their nulls, keep working.
 */
export function storedEngagement<T extends object>(engagement: T): T {
  return withoutNullFields(engagement, KEPT_WHEN_NULL);
}
