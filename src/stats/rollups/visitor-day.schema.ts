import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * Rollup of raw hits: one row per site, calendar day (site time zone), visitor and combination
 * of the rolled-up dimension values, with that day's page views and events. Keeping the visitor
 * in the key is what makes distinct visitor counts over any range of days exact; the rows are
 * far fewer than hits because a visitor's hits of a day mostly share their dimension values.
 * Derived data: rebuilt from hits at any time (see RollupJob). `_id` is a 12-byte digest of the
 * key (rowId). No first/last hit time: user stats read them from the `visitor` set.
 */
@Schema({ collection: 'stats_visitor_days', versionKey: false })
export class VisitorDay {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** `YYYY-MM-DD` in the site's time zone as it was when the row was computed (see RollupState). */
  @Prop({ required: true })
  day: string;

  /** `visitorKey`, stored short as the other common fields (visitor-row-names.ts, through which every read and write goes). */
  @Prop({ required: true })
  v: string;

  /** `classification`. */
  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  c: Classification;

  @Prop({ type: String, default: null })
  path: string | null;

  @Prop({ type: String, default: null })
  host: string | null;

  @Prop({ type: String, default: null })
  countryCode: string | null;

  @Prop({ type: String, default: null })
  region: string | null;

  @Prop({ type: String, default: null })
  city: string | null;

  @Prop({ type: String, default: null })
  networkDomain: string | null;

  @Prop({ type: String, default: null })
  browser: string | null;

  @Prop({ type: String, default: null })
  os: string | null;

  @Prop({ type: String, default: null })
  device: string | null;

  /** `pageviews`. */
  @Prop({ required: true })
  p: number;

  /** `events`: all hits, page views included. */
  @Prop({ required: true })
  e: number;

  /**
   * `firstBatch`, stored short (on ~1 row a hit): the batch that created the row, its new
   * visitor-days (VisitorCountsBuilder.applyBatch). The row's last batch is `b` (RollupRepository).
   */
  @Prop({ required: true })
  f: number;

  @Prop({ required: true })
  b: number;
}

export type VisitorDayDocument = HydratedDocument<VisitorDay>;
export const VisitorDaySchema = SchemaFactory.createForClass(VisitorDay);

// Serves: every rollup-backed stats read (one site, a range of days), the delete of a site's rows
// before a rebuild, and the visitor counts' reads of a day's visitors or of a whole site.
VisitorDaySchema.index({ siteId: 1, day: 1 });
// `{ siteId, classification, visitorKey }` under the stored names. Serves: the visitor counts'
// history of the visitors of recomputed days (VisitorCountsBuilder) and the lookup of unsettled
// days' visitors in the settled part of a counts-backed read.
VisitorDaySchema.index({ siteId: 1, c: 1, v: 1 });
