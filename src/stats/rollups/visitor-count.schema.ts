import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { VISITOR_COUNT_SCOPES, type CountUnit, type VisitorCountScope } from './visitor-count-keys.js';

/**
 * Distinct visitors without visitor keys (ADR 0003, "previous active day counts"): per site,
 * count key (see VISITOR_COUNT_KEYS), classification scope and unit (a local day, or a closed
 * week), one entry per value of the key's dimensions with the visitors active in the unit with
 * it, each on their first active day there: `fresh` ones (no earlier active day with it in that
 * scope) and `returning` ones by their previous active day `p`. A visitor active in `[a, b]` has
 * exactly one such first day in the units making up the range that is fresh or returns from
 * before `a`, so distinct visitors of a range are the sum of those — O(units × values),
 * independent of visitors. Each entry also holds the page views, hits and bot hits of its unit,
 * scope and values, so a list of visitors and page views reads these rows alone. One document per
 * value (`rows` holds its one entry; `_id` a digest of site, key, scope, unit, day and value), so
 * that a batch's delta to it is one update. Kept by the rollup job (VisitorCountsBuilder): by
 * deltas per batch, recounted from stats_visitor_days on a rebuild and when a week closes.
 */
@Schema({ collection: 'stats_visitor_counts', versionKey: false })
export class VisitorCountRow {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  key: string;

  @Prop({ type: String, enum: VISITOR_COUNT_SCOPES, required: true })
  scope: VisitorCountScope;

  /** A local day, or a closed Monday-to-Sunday week (see CountUnit and RollupState's `weeksThrough`). */
  @Prop({ type: String, enum: ['day', 'week'], required: true })
  unit: CountUnit;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState): the day, or the week's Monday. */
  @Prop({ required: true })
  day: string;

  /**
   * The value's one entry: `values` by dimension name (`{ country: 'DE' }`; absent for the total),
   * `fresh`, `returning` as `{ p, n }` sorted by the previous active day `p`, and the value's
   * `pageviews`, `events` (all hits) and `botHits` that day.
   */
  @Prop({ type: [Object], required: true })
  rows: Array<{
    values?: Record<string, string | null>;
    fresh: number;
    returning: Array<{ p: string; n: number }>;
    pageviews: number;
    events: number;
    botHits: number;
  }>;
}

export type VisitorCountRowDocument = HydratedDocument<VisitorCountRow>;
export const VisitorCountRowSchema = SchemaFactory.createForClass(VisitorCountRow);

// Serves: counts-backed visitors and hits (one site, key, scope and unit, a range or list of days or
// weeks — overview, timeseries, breakdowns, /data/*).
VisitorCountRowSchema.index({ siteId: 1, key: 1, scope: 1, unit: 1, day: 1 });
// Serves: the job's delete of a site's recounted days or weeks across keys and scopes.
VisitorCountRowSchema.index({ siteId: 1, unit: 1, day: 1 });
