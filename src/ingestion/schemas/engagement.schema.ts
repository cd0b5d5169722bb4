import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types } from 'mongoose';
import { CLASSIFICATIONS, type Classification, type HitProps } from './hit.schema.js';

export const ENGAGEMENTS_COLLECTION = 'engagements';

/**
 * How long one page was visible and focused and how far it was scrolled, sent once when the
 * visitor leaves or hides it (an ingest hit named `engagement`). Kept out of `hits` so that no
 * count derived from hits (page views, events, visits, bounce, duration, rollups) ever sees it.
 * Enriched exactly as a hit is (same fields, same meanings; see Hit), minus the ones that only
 * make sense for hits: name, visitId, revenue. No raw IP, user id or key is stored.
 */
@Schema({ collection: ENGAGEMENTS_COLLECTION, versionKey: false })
export class Engagement {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** When the page was left (client/server time, UTC). */
  @Prop({ required: true })
  ts: Date;

  @Prop({ required: true })
  receivedAt: Date;

  /** Time the page was visible and in focus, in ms, at most MAX_ENGAGEMENT_MS. */
  @Prop({ required: true })
  engagementMs: number;

  /** Deepest scroll reached, 0–100 (% of the page height). */
  @Prop({ required: true })
  scrollDepth: number;

  /** Client-chosen idempotency key, unique per site among engagements. */
  @Prop()
  eventId?: string;

  @Prop({ required: true })
  visitorKey: string;

  @Prop()
  userKey?: string;

  @Prop({ required: true })
  host: string;

  @Prop({ required: true })
  path: string;

  @Prop({ type: String, default: null })
  referrer: string | null;

  @Prop({ type: String, default: null })
  referrerHost: string | null;

  @Prop({ type: String, default: null })
  source: string | null;

  @Prop({ type: String, default: null })
  utmSource: string | null;

  @Prop({ type: String, default: null })
  utmMedium: string | null;

  @Prop({ type: String, default: null })
  utmCampaign: string | null;

  @Prop({ type: String, default: null })
  utmTerm: string | null;

  @Prop({ type: String, default: null })
  utmContent: string | null;

  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  @Prop({ type: String, default: null })
  botReason: string | null;

  @Prop({ type: String, default: null })
  countryCode: string | null;

  @Prop({ type: String, default: null })
  region: string | null;

  @Prop({ type: String, default: null })
  city: string | null;

  /** From the reverse-DNS cache only: unlike a hit's, it is not filled in after the write. */
  @Prop({ type: String, default: null })
  networkDomain: string | null;

  @Prop({ type: String, default: null })
  browser: string | null;

  @Prop({ type: String, default: null })
  os: string | null;

  @Prop({ type: String, default: null })
  device: string | null;

  /** The custom properties sent with the engagement (Plausible's trackers repeat the page's props). */
  @Prop({ type: Object, default: undefined })
  props?: HitProps;
}

export const EngagementSchema = SchemaFactory.createForClass(Engagement);

// Serves: every engagement read over a site and time range (stats), purge-before-date, retention.
EngagementSchema.index({ siteId: 1, ts: 1 });
// Serves: idempotency — a repeated eventId is a duplicate-key error, never a second document.
EngagementSchema.index(
  { siteId: 1, eventId: 1 },
  { unique: true, partialFilterExpression: { eventId: { $type: 'string' } }, name: 'siteId_eventId_unique' },
);
// Serves: erasure of one identified user (their visitor keys, as for hits).
EngagementSchema.index({ siteId: 1, visitorKey: 1 });
