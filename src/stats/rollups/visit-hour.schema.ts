import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * Rollup of the visits collection: one row per site, local hour of the visits' START (site time
 * zone) and classification, with the sums every visit metric derives from. A visit belongs to the
 * bucket of its start, so these rows answer visits, bounce rate, duration and views per visit for
 * any range of whole days at any interval without reading a single visit. Visit sums add up
 * across hours (unlike distinct visitors), so no visitor key is needed. Kept by the rollup job
 * from the sessionizer's visit changes (old contribution out, new in; see RollupJob).
 */
@Schema({ collection: 'stats_visit_hours', versionKey: false })
export class VisitHour {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  /** `YYYY-MM-DDTHH:00` in the site's time zone, the label hourly timeseries use. */
  @Prop({ required: true })
  hour: string;

  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  @Prop({ required: true })
  visits: number;

  /** Visits with exactly one page view. */
  @Prop({ required: true })
  bounces: number;

  /** Σ (end − start) in milliseconds: integer sums stay exact whatever order they are added in. */
  @Prop({ required: true })
  durationMs: number;

  /** Σ page views of the visits. */
  @Prop({ required: true })
  visitPageviews: number;
}

export type VisitHourDocument = HydratedDocument<VisitHour>;
export const VisitHourSchema = SchemaFactory.createForClass(VisitHour);

// Serves: rollup-backed visit metrics (overview, timeseries: one site, a range of days) and the
// removal of rows left without visits.
VisitHourSchema.index({ siteId: 1, day: 1 });
