import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { VISITOR_COUNT_SCOPES, type VisitorCountScope } from './visitor-count-keys.js';

/**
 * Distinct visitors without visitor keys (ADR 0003, "previous active day counts"): per site,
 * count key (see VISITOR_COUNT_KEYS), classification scope, key values and local day, the
 * visitors active that day with those values: `fresh` ones (no earlier active day with them in
 * that scope) and `returning` ones by their previous active day `p`. A visitor active in `[a, b]`
 * has exactly one active day there that is fresh or returns from before `a`, so distinct
 * visitors of a range are the sum of those — O(days × values) rows, independent of visitors.
 * Derived from stats_visitor_sets by the rollup job (VisitorCountsBuilder).
 */
@Schema({ collection: 'stats_visitor_counts', versionKey: false })
export class VisitorCountRow {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  key: string;

  @Prop({ type: String, enum: VISITOR_COUNT_SCOPES, required: true })
  scope: VisitorCountScope;

  /** The key's dimension values by dimension name (`{ country: 'DE' }`); absent for the total. */
  @Prop({ type: Object })
  values?: Record<string, string | null>;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  /** Visitors with no earlier active day with these values. */
  @Prop({ required: true })
  fresh: number;

  /** Visitors by previous active day (`YYYY-MM-DD`) with these values, sorted by `p`. */
  @Prop({ type: [Object], required: true })
  returning: Array<{ p: string; n: number }>;
}

export type VisitorCountRowDocument = HydratedDocument<VisitorCountRow>;
export const VisitorCountRowSchema = SchemaFactory.createForClass(VisitorCountRow);

// Serves: counts-backed distinct visitors (one site, key and scope, a range of days — overview,
// timeseries, breakdowns, /data/*) and the delete before the job rewrites a site's days.
VisitorCountRowSchema.index({ siteId: 1, key: 1, scope: 1, day: 1 });
// Serves: the job's delete of a site's recomputed days across keys and scopes.
VisitorCountRowSchema.index({ siteId: 1, day: 1 });
