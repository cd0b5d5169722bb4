import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

/**
 * A visit (session): one visitor's hits on one site with no gap longer than
 * SESSION_IDLE_MINUTES, exactly as if the visitor's hits were sessionized in time order.
 * Derived from hits by the sessions module; `_id` is the `visitId` stamped on its hits. An
 * optional field without a value is absent (`storedVisit`; `utmSource` is always there), or null
 * on visits stored before: reads treat both alike (docs/storage.md).
 */
@Schema({ collection: 'visits', versionKey: false })
export class Visit {
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  visitorKey: string;

  @Prop({ required: true })
  start: Date;

  @Prop({ required: true })
  end: Date;

  /** Number of `pageview` hits; a visit with exactly one is a bounce. */
  @Prop({ required: true })
  pageviews: number;

  /** All hits, pageviews and custom events. */
  @Prop({ required: true })
  hits: number;

  /** `pageviews === 1` (a bounce is a visit with one page view), stored so bounce rate is a plain average. */
  @Prop({ required: true })
  bounce: boolean;

  /** `end − start` in whole seconds; 0 for a single-hit visit. */
  @Prop({ required: true })
  duration: number;

  @Prop({ type: String })
  entryPath?: string | null;

  @Prop({ type: String })
  exitPath?: string | null;

  /** Attributes of the visit's first hit: its classification, country and traffic source. */
  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  /**
   * Whether every hit of the visit has the visit's classification (nearly always: it follows from
   * the user agent). With it, and a visit within one local day, the stats rollups know the visit's
   * hits per day and classification from its own counts instead of reading its hits. Absent on
   * visits stored before it was kept: those are read.
   */
  @Prop()
  singleClass?: boolean;

  /**
   * The traffic source of the whole visit (VISIT_ATTRIBUTION_FIELDS, from its first hit): stats
   * count every hit of the visit under these values, whatever the later hits carry.
   */
  @Prop({ type: String })
  source?: string | null;

  @Prop({ type: String })
  referrer?: string | null;

  @Prop({ type: String })
  utmSource?: string | null;

  @Prop({ type: String })
  utmMedium?: string | null;

  @Prop({ type: String })
  utmCampaign?: string | null;

  @Prop({ type: String })
  utmTerm?: string | null;

  @Prop({ type: String })
  utmContent?: string | null;

  @Prop({ type: String })
  countryCode?: string | null;
}

export type VisitDocument = HydratedDocument<Visit>;
export const VisitSchema = SchemaFactory.createForClass(Visit);

// Serves: visits/bounce/duration over a date range for one site.
VisitSchema.index({ siteId: 1, start: 1 });
// Serves: re-sessionizing one visitor around a late hit (find the visits it touches).
VisitSchema.index({ siteId: 1, visitorKey: 1, start: 1 });
