import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { EnrichedTraffic } from '../../hits/enriched-traffic.js';

export const ENGAGEMENTS_COLLECTION = 'engagements';

/**
 * How long one page was visible and focused and how far it was scrolled, sent once when the
 * visitor leaves or hides it (an ingest hit named `engagement`). Kept out of `hits` so that no
 * count derived from hits (page views, events, visits, bounce, duration, rollups) ever sees it.
 * Enriched exactly as a hit is (EnrichedTraffic), without what only hits have: name, visitId,
 * revenue. Its `ts` is when the page was left; its `networkDomain` comes from the reverse-DNS
 * cache only (not filled in after the write), and its `props` are the page's own, as Plausible's
 * trackers repeat them.
 */
@Schema({ collection: ENGAGEMENTS_COLLECTION, versionKey: false })
export class Engagement extends EnrichedTraffic {
  /** Time the page was visible and in focus, in ms, at most MAX_ENGAGEMENT_MS. */
  @Prop({ required: true })
  engagementMs: number;

  /** Deepest scroll reached, 0–100 (% of the page height). */
  @Prop({ required: true })
  scrollDepth: number;
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
