import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { GeoLookupService } from '../../geo/geo-lookup.service.js';
import { ReverseDnsService } from '../../geo/reverse-dns.service.js';
import { SessionsService } from '../../sessions/sessions.service.js';
import type { SiteView } from '../../sites/site-view.js';
import type { NewEngagement } from '../engagements.repository.js';
import type { NewHit } from '../../hits/hits.repository.js';
import { PAGEVIEW, type HitProps } from '../../hits/hit.schema.js';
import { LruCache } from '../../common/collections/lru-cache.js';
import { classifyUserAgent, type BotVerdict } from './bot-classifier.js';
import { normalisePageUrl, normaliseReferrer } from './url-normalizer.js';
import { UserAgentParser } from './user-agent-parser.js';

/** A validated hit in Siteline's own field names, whichever endpoint it came through. */
export interface HitInput {
  url: string;
  referrer?: string;
  userAgent: string;
  ip: string;
  ts: Date;
  eventId?: string;
  userId?: string;
  name?: string;
  props?: HitProps;
  /** Only on custom events; the amount already a number, the currency upper-cased. */
  revenue?: { currency: string; amount: number };
  /** Keep the URL fragment in the path (hash-routed single-page apps). */
  hashMode?: boolean;
  /** Set on an engagement record (name `engagement`): stored in `engagements`, not as a hit. */
  engagement?: EngagementMeasure;
}

/** What an engagement record measures (name `engagement`); validated and capped already. */
export interface EngagementMeasure {
  engagementMs: number;
  scrollDepth: number;
}

/**
 * Turns a validated hit into the stored document: page location and UTM tags, referrer and
 * source, bot classification, device, geo, and the keyed visitor hash. The raw IP is used here
 * and dropped; it never reaches the document.
 */
@Injectable()
export class EnrichmentService {
  private readonly userAgents = new UserAgentParser(1000);
  /**
   * Bot verdicts by the exact user agent, as the device is cached: isbot's pattern alone cost
   * several microseconds a hit, and live traffic repeats a few hundred user agents.
   */
  private readonly verdicts = new LruCache<string, BotVerdict>(1000);

  constructor(
    private readonly geo: GeoLookupService,
    private readonly reverseDns: ReverseDnsService,
    private readonly sessions: SessionsService,
  ) {}

  /** Loads the geo database on first use; call before `enrich`. */
  ready(): Promise<void> {
    return this.geo.ready();
  }

  /** Returns null when `url` is not a URL or path Siteline can store. */
  enrich(site: SiteView, input: HitInput, receivedAt: Date): NewHit | null {
    const page = normalisePageUrl(input.url, site.domain, input.hashMode);
    if (!page) return null;
    const { referrer, referrerHost } = normaliseReferrer(input.referrer, page.host);
    const verdict = this.classify(input.userAgent);
    const device = this.userAgents.parse(input.userAgent);
    const location = this.geo.lookup(input.ip);
    const hit: NewHit = {
      _id: new Types.ObjectId(),
      siteId: new Types.ObjectId(site.id),
      ts: input.ts,
      receivedAt,
      name: input.name ?? PAGEVIEW,
      visitorKey: this.sessions.visitorKey({
        siteId: site.id,
        ip: input.ip,
        userAgent: input.userAgent,
        userId: input.userId,
        ts: input.ts,
      }),
      visitId: null,
      ...page,
      referrer,
      referrerHost,
      source: page.utmSource ?? referrerHost,
      classification: verdict.classification,
      botReason: verdict.botReason,
      ...location,
      networkDomain: this.reverseDns.cached(input.ip) ?? null,
      browser: device.browser,
      os: device.os,
      device: device.device,
      revenueAmount: input.revenue?.amount ?? null,
      revenueCurrency: input.revenue?.currency ?? null,
    };
    if (input.eventId !== undefined) hit.eventId = input.eventId;
    if (input.userId !== undefined) hit.userKey = this.sessions.userKey(site.id, input.userId);
    if (input.props !== undefined && Object.keys(input.props).length > 0) hit.props = input.props;
    return hit;
  }

  private classify(userAgent: string): BotVerdict {
    return this.verdicts.getOrCompute(userAgent, classifyUserAgent);
  }

  /**
   * An engagement record: the same enrichment as a hit (page, source, classification, device,
   * geo, visitor key), without the fields only hits have (name, visit, revenue).
   */
  enrichEngagement(
    site: SiteView,
    input: HitInput,
    measure: EngagementMeasure,
    receivedAt: Date,
  ): NewEngagement | null {
    const hit = this.enrich(site, input, receivedAt);
    if (!hit) return null;
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- dropped: hits-only fields
    const { name, visitId, revenueAmount, revenueCurrency, ...enriched } = hit;
    return { ...enriched, ...measure };
  }
}
