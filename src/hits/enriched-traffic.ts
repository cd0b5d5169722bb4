import { Prop, Schema } from '@nestjs/mongoose';
import { Types } from 'mongoose';

export const CLASSIFICATIONS = ['USER', 'BOT'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export type HitProps = Record<string, string | number | boolean>;

/**
 * What ingest knows of one request once it is enriched: site, time, hashed visitor, page,
 * source, classification, place and device. Hits and engagement records both carry exactly
 * these fields, with the same meanings, so one filter or breakdown reads either collection. No
 * raw IP, user id or key is stored — only keyed hashes (`visitorKey`, `userKey`).
 *
 * An optional field without a value is absent from a stored hit (HitsRepository.insertMany) and
 * null on an engagement and on hits stored before hits left such fields out: every read treats
 * absent and null alike (docs/storage.md, "Fields without a value").
 */
@Schema()
export abstract class EnrichedTraffic {
  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** When it happened (client/server time, UTC). */
  @Prop({ required: true })
  ts: Date;

  /** When Siteline accepted it; `ts` may lie in the past for backfilled hits. */
  @Prop({ required: true })
  receivedAt: Date;

  /** Client-chosen idempotency key, unique per site and collection. */
  @Prop()
  eventId?: string;

  /** HMAC(VISITOR_SECRET, siteId | identity), truncated (docs/metrics.md, "Visitor"). */
  @Prop({ required: true })
  visitorKey: string;

  /** HMAC of the client site's signed-in user id, so a user's data can be found and erased. */
  @Prop()
  userKey?: string;

  /** Page host and path (query dropped; fragment dropped unless the hit was sent with `hashMode`). */
  @Prop({ required: true })
  host: string;

  @Prop({ required: true })
  path: string;

  @Prop({ type: String })
  referrer?: string | null;

  @Prop({ type: String })
  referrerHost?: string | null;

  /** Traffic source: utm_source when given, else the referrer's host; null for direct traffic. */
  @Prop({ type: String })
  source?: string | null;

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

  @Prop({ type: String, enum: CLASSIFICATIONS, required: true })
  classification: Classification;

  /** Why traffic is a BOT (`isbot`, `empty-user-agent`, `headless`, …); null for USER. */
  @Prop({ type: String })
  botReason?: string | null;

  /** ISO 3166-1 alpha-2; null for private or unknown addresses. */
  @Prop({ type: String })
  countryCode?: string | null;

  @Prop({ type: String })
  region?: string | null;

  @Prop({ type: String })
  city?: string | null;

  /** Registrable domain of the IP's reverse DNS name; filled in off the request path (for hits, after the write). */
  @Prop({ type: String })
  networkDomain?: string | null;

  @Prop({ type: String })
  browser?: string | null;

  @Prop({ type: String })
  os?: string | null;

  /** desktop | mobile | tablet | tv | console | wearable | embedded | bot | unknown */
  @Prop({ type: String })
  device?: string | null;

  @Prop({ type: Object, default: undefined })
  props?: HitProps;
}
