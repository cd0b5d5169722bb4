import { BadRequestException, HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Clock } from '../common/time/clock.js';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { ReverseDnsService } from '../geo/reverse-dns.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { SiteView } from '../sites/site-view.js';
import { ENGAGEMENT, MAX_ENGAGEMENT_MS, MAX_HITS_PER_REQUEST, type HitDto } from './dto/hit.dto.js';
import { revenueAmount } from './dto/revenue.validator.js';
import { MAX_TRAFFIC_PER_REQUEST, TrafficDto, TrafficItemDto } from './dto/traffic.dto.js';
import { EnrichmentService, type EngagementMeasure, type HitInput } from './enrichment/enrichment.service.js';
import { HitWriter } from './hit-writer.js';
import type { NewEngagement } from './engagements.repository.js';
import { HitsRepository, type NewHit } from '../hits/hits.repository.js';
import { rejectionReason, validateHit, validateItem } from './hit-validation.js';
import { IngestAuthenticator, type IngestCaller } from './ingest-authenticator.js';
import { PAGEVIEW } from '../hits/hit.schema.js';
import { TokenBucketLimiter } from './rate-limiter.js';

export interface IngestRequest {
  headers: IncomingHttpHeaders;
  /** The client address as Fastify sees it (TRUST_PROXY applied). Used in memory only. */
  ip: string;
}

export interface IngestOutcome {
  status: HttpStatus.ACCEPTED | HttpStatus.BAD_REQUEST;
  body: {
    accepted: number;
    duplicates: number;
    rejected: Array<{ index: number; error: string }>;
    statusCode?: number;
    error?: string;
    message?: string;
  };
  /** Set for browser sends from an allowed origin, to echo in Access-Control-Allow-Origin. */
  allowOrigin?: string;
}

type Parsed = { items: unknown[]; batch: boolean };

const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The ingest pipeline behind both endpoints: authenticate (key or browser origin), rate-limit,
 * validate each item, enrich, write through the group-commit writer, report per item.
 */
@Injectable()
export class IngestService {
  private readonly keyLimiter: TokenBucketLimiter;
  private readonly ipLimiter: TokenBucketLimiter;

  constructor(
    @Inject(trackingConfig.KEY) private readonly config: TrackingConfig,
    private readonly clock: Clock,
    private readonly authenticator: IngestAuthenticator,
    private readonly enrichment: EnrichmentService,
    private readonly writer: HitWriter,
    private readonly hits: HitsRepository,
    private readonly reverseDns: ReverseDnsService,
    private readonly metrics: MetricsService,
  ) {
    this.keyLimiter = new TokenBucketLimiter(config.ingestKeyRateLimit, config.ingestKeyRateLimit * 2);
    this.ipLimiter = new TokenBucketLimiter(config.ingestIpRateLimit, config.ingestIpRateLimit * 2);
  }

  /** `POST /api/v1/hits`: one hit, or `{ hits: [...] }`. */
  async ingestHits(body: unknown, request: IngestRequest): Promise<IngestOutcome> {
    const { items, batch } = parseEnvelope(body, 'hits', MAX_HITS_PER_REQUEST);
    const caller = this.authenticator.presentsKey(request.headers)
      ? await this.authenticator.authenticateKey(request.headers)
      : await this.authenticator.authenticateBrowser(firstSiteRef(items), single(request.headers.origin));
    this.rateLimit(caller, request.ip);
    this.writer.assertRoomFor(items.length);
    if (caller.kind === 'browser' && caller.site.respectDoNotTrack && single(request.headers.dnt) === '1') {
      // The visitor asked not to be tracked and the site honours it: acknowledged, not stored.
      return {
        status: HttpStatus.ACCEPTED,
        body: { accepted: 0, duplicates: 0, rejected: [] },
        allowOrigin: caller.origin,
      };
    }
    const inputs = items.map((item) => this.toInputFromHit(item, caller, request));
    return this.process(inputs, batch, caller);
  }

  /**
   * Hits translated from another product's collection API (`src/compat`): `POST /api/v1/hits`
   * items, each naming `siteRef` as its siteId, sent without a key. Authenticated by
   * `IngestAuthenticator.authenticateKeyless` (a request without Origin is accepted), then the
   * per-IP limit, the site's Do-Not-Track setting and the same validation, enrichment and
   * durable write as `/api/v1/hits`. Throws 401 (unknown site), 403 (origin), 429, 503.
   */
  async ingestKeyless(siteRef: string, items: unknown[], request: IngestRequest): Promise<IngestOutcome> {
    const caller = await this.authenticator.authenticateKeyless(siteRef, single(request.headers.origin));
    this.rateLimit(caller, request.ip);
    this.writer.assertRoomFor(items.length);
    if (caller.site.respectDoNotTrack && single(request.headers.dnt) === '1') {
      return {
        status: HttpStatus.ACCEPTED,
        body: { accepted: 0, duplicates: 0, rejected: [] },
        allowOrigin: caller.origin,
      };
    }
    const inputs = items.map((item) => this.toInputFromHit(item, caller, request));
    return this.process(inputs, true, caller);
  }

  /** `POST /api/v1/traffic`: the site-analytics forms (query/JSON single, `{ traffic: [...] }` batch). */
  async ingestTraffic(body: unknown, query: unknown, request: IngestRequest): Promise<IngestOutcome> {
    const hasBody = typeof body === 'object' && body !== null && Object.keys(body).length > 0;
    const { items, batch } = hasBody
      ? parseEnvelope(body, 'traffic', MAX_TRAFFIC_PER_REQUEST)
      : { items: [query], batch: false };
    const caller = await this.authenticator.authenticateKey(request.headers);
    this.rateLimit(caller, request.ip);
    this.writer.assertRoomFor(items.length);
    const inputs = items.map((item) =>
      batch ? this.toInputFromTrafficItem(item, request) : this.toInputFromTraffic(item, request),
    );
    return this.process(inputs, batch, caller);
  }

  /**
   * Hits from a trusted operator (the CLI `import`): the `POST /api/v1/hits` item shape, the same
   * validation, enrichment and writer as a key-authenticated send, but no rate limit and no
   * request behind it, so a hit without `ip` or `userAgent` has none.
   */
  async ingestTrusted(site: SiteView, items: unknown[]): Promise<IngestOutcome['body']> {
    const caller: IngestCaller = { kind: 'key', keyId: 'cli', site };
    const request: IngestRequest = { headers: {}, ip: '' };
    const inputs = items.map((item) => this.toInputFromHit(item, caller, request));
    return (await this.process(inputs, true, caller)).body;
  }

  private async process(
    inputs: Array<HitInput | string>,
    batch: boolean,
    caller: IngestCaller,
  ): Promise<IngestOutcome> {
    await this.enrichment.ready();
    const receivedAt = this.clock.now();
    const rejected: Array<{ index: number; error: string }> = [];
    const documents: NewHit[] = [];
    const positions: number[] = [];
    const ips: string[] = [];
    const engagements: NewEngagement[] = [];
    const engagementPositions: number[] = [];
    inputs.forEach((input, index) => {
      if (typeof input === 'string') return rejected.push({ index, error: input });
      const record = input.engagement
        ? this.enrichment.enrichEngagement(caller.site, input, input.engagement, receivedAt)
        : this.enrichment.enrich(caller.site, input, receivedAt);
      if (record === null) rejected.push({ index, error: 'url: url must be an http(s) URL or a path' });
      else if (input.engagement) {
        engagements.push(record as NewEngagement);
        engagementPositions.push(index);
      } else {
        documents.push(record as NewHit);
        positions.push(index);
        ips.push(input.ip);
      }
    });
    // One result per document: the hits' first, then the engagements'.
    const results = await this.writer.write(documents, engagements);
    positions.push(...engagementPositions);
    let accepted = 0;
    let duplicates = 0;
    const stored = new Map<string, NewHit[]>();
    results.forEach((result, position) => {
      const document: NewHit | NewEngagement = documents[position] ?? engagements[position - documents.length];
      if (result === 'stored') {
        accepted++;
        if (document.classification === 'BOT') this.metrics.botHits.inc({ reason: document.botReason ?? 'unknown' });
        // Only hits get their network domain filled in after the write (see Engagement.networkDomain).
        if (position < documents.length && document.networkDomain === null)
          stored.set(ips[position], [...(stored.get(ips[position]) ?? []), documents[position]]);
      } else if (result === 'duplicate') duplicates++;
      else rejected.push({ index: positions[position], error: 'hit could not be stored' });
    });
    this.resolveNetworkDomains(stored);
    rejected.sort((a, b) => a.index - b.index);
    this.count(accepted, duplicates, rejected);
    const allowOrigin = caller.kind === 'browser' ? caller.origin : undefined;
    if (accepted + duplicates === 0 || (!batch && rejected.length > 0)) {
      const message = `No valid hit: ${rejected.map((item) => (batch ? `[${item.index}] ${item.error}` : item.error)).join('; ')}`;
      return {
        status: HttpStatus.BAD_REQUEST,
        body: { statusCode: 400, error: 'Bad Request', message, accepted, duplicates, rejected },
        allowOrigin,
      };
    }
    return { status: HttpStatus.ACCEPTED, body: { accepted, duplicates, rejected }, allowOrigin };
  }

  private toInputFromHit(raw: unknown, caller: IngestCaller, request: IngestRequest): HitInput | string {
    const dto = validateHit(raw);
    if (typeof dto === 'string') return dto;
    if (caller.kind === 'browser') {
      if (dto.ip !== undefined) return 'ip: ip is only accepted with a site key';
      if (dto.timestamp !== undefined) return 'timestamp: timestamp is only accepted with a site key';
      if (dto.siteId === undefined) return 'siteId: siteId is required for sends without a site key';
    }
    if (dto.siteId !== undefined && !this.authenticator.matchesSite(caller.site, dto.siteId)) {
      return caller.kind === 'key'
        ? 'siteId: siteId does not match the site of the key'
        : 'siteId: every hit of a request must name the same site';
    }
    const ts = this.timestamp(dto.timestamp);
    if (typeof ts === 'string') return ts;
    const engagement = engagementMeasure(dto);
    if (typeof engagement === 'string') return engagement;
    const revenue = revenueOf(dto);
    if (typeof revenue === 'string') return revenue;
    return {
      url: dto.url,
      referrer: dto.referrer,
      userAgent: dto.userAgent ?? single(request.headers['user-agent']) ?? '',
      ip: dto.ip ?? request.ip,
      ts,
      eventId: dto.eventId,
      userId: dto.userId,
      name: dto.name,
      props: dto.props,
      revenue,
      hashMode: dto.hashMode,
      engagement,
    };
  }

  private toInputFromTraffic(raw: unknown, request: IngestRequest): HitInput | string {
    const dto = validateItem(TrafficDto, raw);
    if (typeof dto === 'string') return dto;
    return {
      url: dto.url,
      userAgent: dto.user_agent ?? single(request.headers['user-agent']) ?? '',
      ip: dto.ip_addr ?? request.ip,
      ts: this.clock.now(),
    };
  }

  private toInputFromTrafficItem(raw: unknown, request: IngestRequest): HitInput | string {
    const dto = validateItem(TrafficItemDto, raw);
    if (typeof dto === 'string') return dto;
    const ts = this.timestamp(dto.timestamp);
    if (typeof ts === 'string') return ts;
    return {
      url: dto.url,
      userAgent: dto.user_agent ?? single(request.headers['user-agent']) ?? '',
      ip: dto.ip_address ?? request.ip,
      ts,
    };
  }

  /** Now, or the given time if it lies within [now − MAX_BACKFILL_DAYS, now + 5 min]. */
  private timestamp(value: string | undefined): Date | string {
    const now = this.clock.now();
    if (value === undefined) return now;
    const ts = new Date(value);
    const earliest = now.getTime() - this.config.maxBackfillDays * DAY_MS;
    if (Number.isNaN(ts.getTime())) return 'timestamp: timestamp must be an ISO 8601 date-time';
    if (ts.getTime() < earliest || ts.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) {
      return `timestamp: timestamp must be within the last ${this.config.maxBackfillDays} days and at most 5 minutes ahead`;
    }
    return ts;
  }

  private rateLimit(caller: IngestCaller, ip: string): void {
    const waitSeconds =
      caller.kind === 'key'
        ? this.keyLimiter.take(caller.keyId, performance.now())
        : this.ipLimiter.take(ip, performance.now());
    if (waitSeconds === 0) return;
    this.metrics.hitsRejected.inc({ reason: 'rate-limit' });
    throw new HttpException(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        message: 'Rate limit exceeded',
        headers: { 'Retry-After': String(waitSeconds) },
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }

  /** Fills networkDomain after the write; the IPs stay in memory only. */
  private resolveNetworkDomains(storedByIp: Map<string, NewHit[]>): void {
    if (!this.reverseDns.enabled) return;
    for (const [ip, documents] of storedByIp) {
      const ids = documents.map((document) => document._id);
      this.reverseDns.resolveLater(ip, (domain) => this.hits.setNetworkDomain(ids, domain));
    }
  }

  private count(accepted: number, duplicates: number, rejected: Array<{ error: string }>): void {
    if (accepted > 0) this.metrics.hits.inc({ result: 'accepted' }, accepted);
    if (duplicates > 0) this.metrics.hits.inc({ result: 'duplicate' }, duplicates);
    if (rejected.length > 0) this.metrics.hits.inc({ result: 'rejected' }, rejected.length);
    for (const item of rejected) this.metrics.hitsRejected.inc({ reason: rejectionReason(item.error) });
  }
}

/**
 * The measure of an engagement record, undefined for any other hit, or why the hit is refused:
 * `engagementMs` and `scrollDepth` belong to `name: "engagement"` only, and it needs both.
 */
function engagementMeasure(dto: HitDto): EngagementMeasure | undefined | string {
  if (dto.name !== ENGAGEMENT) {
    if (dto.engagementMs !== undefined) return 'engagementMs: engagementMs is only accepted with name "engagement"';
    if (dto.scrollDepth !== undefined) return 'scrollDepth: scrollDepth is only accepted with name "engagement"';
    return undefined;
  }
  if (dto.engagementMs === undefined) return 'engagementMs: engagementMs is required with name "engagement"';
  if (dto.scrollDepth === undefined) return 'scrollDepth: scrollDepth is required with name "engagement"';
  return { engagementMs: Math.min(dto.engagementMs, MAX_ENGAGEMENT_MS), scrollDepth: dto.scrollDepth };
}

/** The revenue of a custom event with its amount as a number, or why it is refused on this hit. */
function revenueOf(dto: HitDto): HitInput['revenue'] | string {
  if (dto.revenue === undefined) return undefined;
  const name = dto.name ?? PAGEVIEW;
  if (name === PAGEVIEW || name === ENGAGEMENT) {
    return `revenue: revenue is only accepted on custom events, not on "${name}"`;
  }
  return { currency: dto.revenue.currency.toUpperCase(), amount: revenueAmount(dto.revenue.amount)! };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `{ <field>: [...] }` is a batch of 1..max items; any other object is one item. */
function parseEnvelope(body: unknown, field: 'hits' | 'traffic', max: number): Parsed {
  if (typeof body === 'string') {
    // The tracker posts JSON as text/plain (a CORS "simple request", no preflight).
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new BadRequestException('Body must be JSON');
    }
    return parseEnvelope(parsed, field, max);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException(`Body must be a JSON object: one hit or { "${field}": [...] }`);
  }
  if (!(field in body)) return { items: [body], batch: false };
  const extra = Object.keys(body).filter((key) => key !== field);
  if (extra.length > 0)
    throw new BadRequestException(`${extra[0]}: property ${extra[0]} should not exist beside ${field}`);
  const items = (body as Record<string, unknown>)[field];
  if (!Array.isArray(items) || items.length < 1 || items.length > max) {
    throw new BadRequestException(`${field} must be an array of 1 to ${max} items`);
  }
  return { items, batch: true };
}

/**
 * The site a key-less send names: the first item's non-empty `siteId`. One that is neither a
 * string nor null (an operator object, a number) is a 400 naming the field, not "no site".
 */
function firstSiteRef(items: unknown[]): string | undefined {
  for (const [index, item] of items.entries()) {
    const ref = typeof item === 'object' && item !== null ? (item as { siteId?: unknown }).siteId : undefined;
    if (ref !== undefined && ref !== null && typeof ref !== 'string') {
      throw new BadRequestException(`${items.length > 1 ? `hits[${index}].` : ''}siteId must be a string`);
    }
    if (typeof ref === 'string' && ref !== '') return ref;
  }
  return undefined;
}
