import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

export const CLASSIFICATIONS = ['USER', 'BOT'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];
export const PAGEVIEW = 'pageview';

export type HitProps = Record<string, string | number | boolean>;

/**
 * One recorded page view or event, enriched at ingest. Raw hits are the source of truth: visits
 * and rollups are derived from them and can be rebuilt. No raw IP, user id or key is stored —
 * only keyed hashes (`visitorKey`, `userKey`).
 */
@Schema({ collection: 'hits', versionKey: false })
export class Hit {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** When the hit happened (client/server time, UTC). */
  @Prop({ required: true })
  ts: Date;

  /** When Siteline accepted it; `ts` may lie in the past for backfilled hits. */
  @Prop({ required: true })
  receivedAt: Date;

  /** `pageview` or a custom event name. */
  @Prop({ required: true })
  name: string;

  /** Client-chosen idempotency key, unique per site. */
  @Prop()
  eventId?: string;

  /** HMAC(VISITOR_SECRET, siteId | identity), truncated (docs/metrics.md, "Visitor"). */
  @Prop({ required: true })
  visitorKey: string;

  /** HMAC of the client site's signed-in user id, so a user's data can be found and erased. */
  @Prop()
  userKey?: string;

  /** The visit this hit belongs to; assigned by the sessions module, null until then. */
  @Prop({ type: String, default: null })
  visitId: string | null;

  /** Page host and path (query dropped; fragment dropped unless the hit was sent with `hashMode`). */
  @Prop({ required: true })
  host: string;

  @Prop({ required: true })
  path: string;

  @Prop({ type: String, default: null })
  referrer: string | null;

  @Prop({ type: String, default: null })
  referrerHost: string | null;

  /** Traffic source: utm_source when given, else the referrer's host; null for direct traffic. */
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

  /** Why a hit is a BOT (`isbot`, `empty-user-agent`, `headless`, …); null for USER. */
  @Prop({ type: String, default: null })
  botReason: string | null;

  /** ISO 3166-1 alpha-2; null for private or unknown addresses. */
  @Prop({ type: String, default: null })
  countryCode: string | null;

  @Prop({ type: String, default: null })
  region: string | null;

  @Prop({ type: String, default: null })
  city: string | null;

  /** Registrable domain of the IP's reverse DNS name; filled in after the write, off the request path. */
  @Prop({ type: String, default: null })
  networkDomain: string | null;

  @Prop({ type: String, default: null })
  browser: string | null;

  @Prop({ type: String, default: null })
  os: string | null;

  /** desktop | mobile | tablet | tv | console | wearable | embedded | bot | unknown */
  @Prop({ type: String, default: null })
  device: string | null;

  @Prop({ type: Object, default: undefined })
  props?: HitProps;

  /** Revenue of a custom event (`revenue.amount`); null when none was sent. */
  @Prop({ type: Number, default: null })
  revenueAmount: number | null;

  /** ISO 4217 code of `revenueAmount`, upper-cased; null when no revenue was sent. */
  @Prop({ type: String, default: null })
  revenueCurrency: string | null;
}

export type HitDocument = HydratedDocument<Hit>;
export const HitSchema = SchemaFactory.createForClass(Hit);

// Serves: every stats range query over raw hits, export, purge-before-date, retention.
HitSchema.index({ siteId: 1, ts: 1 });
// Serves: the stats rollup job and reads finding hits received after the rollup watermark (stats/rollups).
HitSchema.index({ receivedAt: 1 });
// Serves: idempotency — a repeated eventId is a duplicate-key error, never a second document.
HitSchema.index(
  { siteId: 1, eventId: 1 },
  { unique: true, partialFilterExpression: { eventId: { $type: 'string' } }, name: 'siteId_eventId_unique' },
);
// Serves: sessionization (a visitor's hits around a time) and per-visitor user stats.
HitSchema.index({ siteId: 1, visitorKey: 1, ts: 1 });
// Serves: erasure of one identified user (DELETE /sites/:id/users/:userId).
HitSchema.index({ siteId: 1, userKey: 1 }, { partialFilterExpression: { userKey: { $type: 'string' } } });
