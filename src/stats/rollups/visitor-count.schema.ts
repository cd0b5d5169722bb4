import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { VISITOR_COUNT_SCOPES, type VisitorCountScope } from './visitor-count-keys.js';

/**
 * Distinct visitors without visitor keys (ADR 0003, "previous active day counts"): per site,
 * count key (see VISITOR_COUNT_KEYS), classification scope and local day, one entry per value of
 * the key's dimensions with the visitors active that day with it: `fresh` ones (no earlier active
 * day with it in that scope) and `returning` ones by their previous active day `p`. A visitor
 * active in `[a, b]` has exactly one active day there that is fresh or returns from before `a`,
 * so distinct visitors of a range are the sum of those — O(days × values), independent of
 * visitors. Each entry also holds the page views, hits and bot hits of its day, scope and
 * values, so a list of visitors and page views reads these rows alone. A day's values are split over several documents (`part`) when many. Derived from
 * stats_visitor_sets by the rollup job (VisitorCountsBuilder).
 */
@Schema({ collection: 'stats_visitor_counts', versionKey: false })
export class VisitorCountRow {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  key: string;

  @Prop({ type: String, enum: VISITOR_COUNT_SCOPES, required: true })
  scope: VisitorCountScope;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  /** Which of the day's documents for this key and scope (0, 1, …). */
  @Prop({ required: true })
  part: number;

  /**
   * One entry per value: `values` by dimension name (`{ country: 'DE' }`; absent for the total),
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

// Serves: counts-backed distinct visitors (one site, key and scope, a range of days — overview,
// timeseries, breakdowns, /data/*).
VisitorCountRowSchema.index({ siteId: 1, key: 1, scope: 1, day: 1 });
// Serves: the job's delete of a site's recomputed days across keys and scopes.
VisitorCountRowSchema.index({ siteId: 1, day: 1 });
