import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * Narrow visitor-day rows: for each dimension set (see VISITOR_SETS), one row per site, local day,
 * visitor, classification and value of the set's fields only. Set `visitor` keeps the fields that
 * stay the same through a visitor's day (place, network, device, host), so it holds about one row
 * per visitor and day and answers totals and breakdowns by those. The full-combination rows (stats_visitor_days)
 * multiply with every page a visitor views; these do not, so distinct visitors of a query cost
 * about what an exact count must read. Kept by the rollup job by adding each batch of new hits;
 * `_id` is a 12-byte digest of the row's key (rowId).
 */
@Schema({ collection: 'stats_visitor_sets', versionKey: false, strict: false })
export class VisitorSetRow {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** The dimension set this row belongs to (see VISITOR_SETS). */
  @Prop({ required: true })
  set: string;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  /**
   * `visitorKey`, stored short as the other common fields (visitor-row-names.ts, through which
   * every read and write goes).
   */
  @Prop({ required: true })
  v: string;

  /** `classification`. */
  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  c: Classification;

  // The set's own dimension fields (`countryCode`, `path`, …) are stored under their hit names.

  /** `pageviews`. */
  @Prop({ required: true })
  p: number;

  /** `events`. */
  @Prop({ required: true })
  e: number;

  /** The last batch added to the row (`lastBatch`, stored short: RollupRepository.applyRowDeltas). */
  @Prop({ required: true })
  b: number;

  // Set `visitor` only (USER_STATS_SET, what user stats read): the visitor's first (`firstTs`)
  // and last (`lastTs`) hit of the row, and 1 when a hit of it carried a (hashed) userId
  // (`identified`), else absent.

  @Prop()
  s?: Date;

  @Prop()
  l?: Date;

  @Prop()
  i?: number;
}

export type VisitorSetRowDocument = HydratedDocument<VisitorSetRow>;
export const VisitorSetRowSchema = SchemaFactory.createForClass(VisitorSetRow);

// Serves: rollup-backed hit metrics answered from one set (one site, one set, a range of days —
// overview, timeseries, breakdowns and /data/* lists), rollup-backed user stats (set `total`,
// all days) and the delete of a site's rows before a rebuild.
VisitorSetRowSchema.index({ siteId: 1, set: 1, day: 1 });
