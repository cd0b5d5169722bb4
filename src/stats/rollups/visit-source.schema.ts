import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * Visit sums by attribution: one row per site, local day of the visits' START, classification,
 * attribution dimension (`source`, `referrer`, `utm_*`, `entry_page`: ATTRIBUTION_DIMENSIONS) and
 * value (absent: none), with the sums every visit metric derives from. A breakdown of visit
 * metrics by one of those dimensions reads a few rows per day and value instead of every visit.
 * Kept by the rollup job from the sessionizer's visit changes, each visit's old contribution out
 * and its new one in (its attribution may change when a late hit becomes its first).
 */
@Schema({ collection: 'stats_visit_sources', versionKey: false })
export class VisitSourceDay {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  /** The query dimension (`source`, `utm_campaign`, `entry_page`, …). */
  @Prop({ required: true })
  dimension: string;

  /** The visits' value of it; absent when they have none. */
  @Prop({ type: String })
  value?: string;

  @Prop({ required: true })
  visits: number;

  @Prop({ required: true })
  bounces: number;

  @Prop({ required: true })
  durationMs: number;

  @Prop({ required: true })
  visitPageviews: number;
}

export type VisitSourceDayDocument = HydratedDocument<VisitSourceDay>;
export const VisitSourceDaySchema = SchemaFactory.createForClass(VisitSourceDay);

// Serves: rollup-backed visit metrics by one attribution dimension (one site, one dimension, a
// range of days), the removal of rows left without visits and the delete of a site's rows.
VisitSourceDaySchema.index({ siteId: 1, dimension: 1, day: 1 });
