import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * Hit counts without visitors: for each dimension set (see HIT_COUNT_SETS), one row per site, local
 * hour, classification and value of the set's fields, with its page views and events. Counts add
 * up across hours, so queries that need no distinct visitors (page views alone, bot share) read
 * at most 24 rows per day and value, however many hits and visitors the site has. Kept by the
 * rollup job by adding each batch of new hits.
 */
@Schema({ collection: 'stats_hit_hours', versionKey: false, strict: false })
export class HitHour {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  set: string;

  /** `YYYY-MM-DD` in the site's time zone (see RollupState). */
  @Prop({ required: true })
  day: string;

  /** `YYYY-MM-DDTHH:00` in the site's time zone, the label hourly timeseries use. */
  @Prop({ required: true })
  hour: string;

  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  // The set's own dimension fields (`countryCode`, `path`, …) are stored under their hit names.

  @Prop({ required: true })
  pageviews: number;

  /** All hits, page views included. */
  @Prop({ required: true })
  events: number;
}

export type HitHourDocument = HydratedDocument<HitHour>;
export const HitHourSchema = SchemaFactory.createForClass(HitHour);

// Serves: rollup-backed page views, events and bot share without visitors (one site, one set, a
// range of days — /data/views, the bot share of overview) and the delete of a site's rows before a rebuild.
HitHourSchema.index({ siteId: 1, set: 1, day: 1 });
