import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { VISITOR_COUNT_SCOPES, type VisitorCountScope } from './visitor-count-keys.js';

/**
 * Distinct visitors without visitor keys (ADR 0003, "previous active day counts"): per site,
 * count key (see VISITOR_COUNT_KEYS), classification scope, key values, local day and `prev`,
 * how many visitors were active that day with those values whose previous active day with them
 * (same scope) was `prev` (null: none). A visitor active in `[a, b]` has exactly one active day
 * there with `prev < a` or none, so distinct visitors of a range are the sum of those counts —
 * O(days × values × distinct prev) rows, independent of visitors. Derived from
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

  /** The key's dimension values by dimension name (`{ country: 'DE' }`); absent for the total. */
  @Prop({ type: Object })
  values?: Record<string, string | null>;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  @Prop({ type: String, default: null })
  prev: string | null;

  @Prop({ required: true })
  count: number;
}

export type VisitorCountRowDocument = HydratedDocument<VisitorCountRow>;
export const VisitorCountRowSchema = SchemaFactory.createForClass(VisitorCountRow);

// Serves: counts-backed distinct visitors (one site, key and scope, a range of days — overview,
// timeseries, breakdowns, /data/*) and the delete before the job rewrites a site's days.
VisitorCountRowSchema.index({ siteId: 1, key: 1, scope: 1, day: 1 });
// Serves: the job's delete of a site's recomputed days across keys and scopes.
VisitorCountRowSchema.index({ siteId: 1, day: 1 });
