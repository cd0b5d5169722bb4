import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * Hit counts without visitors per local day: for each dimension set (see HIT_DAY_SETS), one row
 * per site, day, classification and value of the set's fields, with its page views and events.
 * Queries without an hourly interval read these rather than the hourly ones (stats_hit_hours):
 * one row per day and value. Kept by the rollup job by adding each batch of new hits.
 */
@Schema({ collection: 'stats_hit_days', versionKey: false, strict: false })
export class HitDay {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  set: string;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  // The set's own dimension fields (`countryCode`, `path`, …) are stored under their hit names.

  @Prop({ required: true })
  pageviews: number;

  /** All hits, page views included. */
  @Prop({ required: true })
  events: number;
}

export type HitDayDocument = HydratedDocument<HitDay>;
export const HitDaySchema = SchemaFactory.createForClass(HitDay);

// Serves: rollup-backed page views, events and bot share by day, week, month or none (one site,
// one set, a range of days — /data/* lists, breakdowns, overview) and the delete of a site's rows before a rebuild.
HitDaySchema.index({ siteId: 1, set: 1, day: 1 });
