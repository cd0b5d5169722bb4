import { IsIn, IsISO8601, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsFlatProps } from '../ingestion/dto/flat-props.validator.js';
import type { EnrichmentService } from '../ingestion/enrichment/enrichment.service.js';
import type { NewHit } from '../hits/hits.repository.js';
import { CLASSIFICATIONS, PAGEVIEW, type Classification, type HitProps } from '../hits/hit.schema.js';
import type { SiteView } from '../sites/site-view.js';

/**
 * The `export` record: a stored hit as a file line, re-importable with `import`.
 *
 * Siteline never stores a hit's IP or user agent, so an export cannot carry them, and re-enriching
 * an exported hit would lose its visitor, location, device and classification. An export record
 * therefore carries those enriched fields, and `import` restores them as they were. The page and
 * referrer fields are recomputed from `url` and `referrer` by the same normalisation as any hit.
 * These fields exist only on this trusted command-line path: `POST /api/v1/hits` rejects a
 * `visitorKey` like any unknown field, so no HTTP sender can choose its visitor identity.
 */
export const EXPORT_COLUMNS = [
  'eventId',
  'timestamp',
  'url',
  'referrer',
  'name',
  'props',
  'visitorKey',
  'userKey',
  'classification',
  'botReason',
  'countryCode',
  'region',
  'city',
  'networkDomain',
  'browser',
  'os',
  'device',
  'revenueAmount',
  'revenueCurrency',
] as const;

export type ExportedHit = Partial<Record<(typeof EXPORT_COLUMNS)[number], string | HitProps>>;

/** An import record is an export record (restored as exported) when it has a visitorKey. */
export function isArchivedRecord(record: Record<string, unknown>): boolean {
  return 'visitorKey' in record;
}

const HASH = /^[0-9a-f]{32}$/;

export class ArchivedHitDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  eventId!: string;

  @IsISO8601({ strict: true })
  timestamp!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(2048)
  url!: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  referrer?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  name?: string;

  @IsOptional()
  @IsFlatProps()
  props?: HitProps;

  @Matches(HASH, { message: 'visitorKey must be a visitor key from an export' })
  visitorKey!: string;

  @IsOptional()
  @Matches(HASH, { message: 'userKey must be a user key from an export' })
  userKey?: string;

  @IsIn(CLASSIFICATIONS)
  classification!: Classification;

  @IsOptional() @IsString() @MaxLength(64) botReason?: string;
  @IsOptional() @IsString() @MaxLength(2) countryCode?: string;
  @IsOptional() @IsString() @MaxLength(256) region?: string;
  @IsOptional() @IsString() @MaxLength(256) city?: string;
  @IsOptional() @IsString() @MaxLength(256) networkDomain?: string;
  @IsOptional() @IsString() @MaxLength(256) browser?: string;
  @IsOptional() @IsString() @MaxLength(256) os?: string;
  @IsOptional() @IsString() @MaxLength(64) device?: string;

  /** A custom event's revenue, as exported: the amount as decimal text, with its currency. */
  @IsOptional()
  @Matches(/^-?\d{1,15}(\.\d{1,20})?$/, { message: 'revenueAmount must be a decimal number' })
  revenueAmount?: string;

  @IsOptional()
  @Matches(/^[A-Z]{3}$/, { message: 'revenueCurrency must be a 3-letter ISO 4217 code' })
  revenueCurrency?: string;
}

/** The stored document for an export record, or why its url cannot be stored. */
export function restoreArchivedHit(
  enrichment: EnrichmentService,
  site: SiteView,
  record: ArchivedHitDto,
  receivedAt: Date,
): NewHit | string {
  if ((record.revenueAmount === undefined) !== (record.revenueCurrency === undefined)) {
    return 'revenueAmount: revenueAmount and revenueCurrency go together';
  }
  const input = {
    url: record.url,
    referrer: record.referrer,
    userAgent: '',
    ip: '',
    ts: new Date(record.timestamp),
    eventId: record.eventId,
    name: record.name,
    props: record.props,
    // A stored path holds a fragment only when its hit was sent in hash mode: keep it as stored.
    hashMode: true,
    revenue:
      record.revenueAmount !== undefined && record.revenueCurrency !== undefined
        ? { currency: record.revenueCurrency, amount: Number(record.revenueAmount) }
        : undefined,
  };
  const hit = enrichment.enrich(site, input, receivedAt);
  if (hit === null) return 'url: url must be an http(s) URL or a path';
  const restored: NewHit = {
    ...hit,
    visitorKey: record.visitorKey,
    classification: record.classification,
    botReason: record.botReason ?? null,
    countryCode: record.countryCode ?? null,
    region: record.region ?? null,
    city: record.city ?? null,
    networkDomain: record.networkDomain ?? null,
    browser: record.browser ?? null,
    os: record.os ?? null,
    device: record.device ?? null,
  };
  if (record.userKey !== undefined) restored.userKey = record.userKey;
  return restored;
}

/** A stored hit as an export record; fields absent or null on the hit are left out. */
export function toExportedHit(hit: NewHit): ExportedHit {
  const query = new URLSearchParams();
  const utm = [
    ['utm_source', hit.utmSource],
    ['utm_medium', hit.utmMedium],
    ['utm_campaign', hit.utmCampaign],
    ['utm_term', hit.utmTerm],
    ['utm_content', hit.utmContent],
  ] as const;
  for (const [name, value] of utm) if (value !== null && value !== undefined) query.set(name, value);
  const search = query.size > 0 ? `?${query.toString()}` : '';
  const record: ExportedHit = {
    // Hits sent without an eventId get their stored _id: a second import of the export is then a no-op too.
    eventId: hit.eventId ?? `hit-${hit._id.toHexString()}`,
    timestamp: hit.ts.toISOString(),
    url: `https://${hit.host}${hit.path}${search}`,
    referrer: hit.referrer ?? undefined,
    name: hit.name === PAGEVIEW ? undefined : hit.name,
    props: hit.props,
    visitorKey: hit.visitorKey,
    userKey: hit.userKey,
    classification: hit.classification,
    botReason: hit.botReason ?? undefined,
    countryCode: hit.countryCode ?? undefined,
    region: hit.region ?? undefined,
    city: hit.city ?? undefined,
    networkDomain: hit.networkDomain ?? undefined,
    browser: hit.browser ?? undefined,
    os: hit.os ?? undefined,
    device: hit.device ?? undefined,
    revenueAmount:
      hit.revenueAmount === null || hit.revenueAmount === undefined ? undefined : String(hit.revenueAmount),
    revenueCurrency: hit.revenueCurrency ?? undefined,
  };
  for (const key of Object.keys(record) as Array<keyof ExportedHit>) if (record[key] === undefined) delete record[key];
  return record;
}
