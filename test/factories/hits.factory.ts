import { ObjectId, type Db } from 'mongodb';
import { Types } from 'mongoose';
import { storedHit } from '../../src/hits/stored-hit.js';
import type { SessionsService } from '../../src/sessions/sessions.service.js';
import { addDays, startOfZonedDay } from '../../src/common/time/calendar.js';

/**
 * A raw hit document for pipeline-level tests that bypass the ingest API, every optional field
 * present (null when empty); `insertHits` stores it as ingestion does, without the null fields.
 */
export interface RawHit {
  siteId: ObjectId;
  ts: Date;
  receivedAt: Date;
  name: string;
  visitorKey: string;
  userKey?: string;
  visitId: string | null;
  host: string;
  path: string;
  referrer: string | null;
  source: string | null;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
  classification: 'USER' | 'BOT';
  botReason: string | null;
  countryCode: string | null;
  region: string | null;
  city: string | null;
  networkDomain: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  /** Awaiting the stats rollups, as every hit ingestion writes (HitsRepository.insertMany). */
  rollupPending?: true;
}

export function rawHit(siteId: ObjectId, fields: Partial<RawHit> & Pick<RawHit, 'ts' | 'visitorKey'>): RawHit {
  return {
    siteId,
    receivedAt: fields.ts,
    name: 'pageview',
    visitId: null,
    host: 'example.com',
    path: '/',
    referrer: null,
    source: null,
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
    classification: 'USER',
    botReason: null,
    countryCode: null,
    region: null,
    city: null,
    networkDomain: null,
    browser: null,
    os: null,
    device: null,
    rollupPending: true,
    ...fields,
  };
}

export interface InsertOptions {
  /** Store the hits exactly as given, nulls included, as hits were stored before they left empty fields out. */
  keepNulls?: boolean;
}

/** Stores raw hits as ingestion does (HitsRepository.insertMany): without their null fields, unless told otherwise. */
export async function insertHits(db: Db, hits: RawHit[], options: InsertOptions = {}): Promise<void> {
  const documents = hits.map((hit) => (options.keepNulls ? { ...hit } : storedHit({ ...hit })));
  if (documents.length > 0) await db.collection('hits').insertMany(documents);
}

/**
 * Stores raw hits of one site and has their visitors sessionized, as ingest does after writing:
 * the visitors are marked dirty, then the site's work list is flushed.
 */
export async function insertAndSessionize(
  db: Db,
  sessions: SessionsService,
  siteId: string,
  hits: RawHit[],
  options: InsertOptions = {},
): Promise<void> {
  await insertHits(db, hits, options);
  await sessions.markDirty(
    hits.map((hit) => ({ siteId: new Types.ObjectId(siteId), visitorKey: hit.visitorKey, from: hit.ts, to: hit.ts })),
  );
  await sessions.flush(siteId);
}

/** The first day of the rollup properties' random traffic (2024-05-01, local to each site). */
const PROPERTY_FIRST_DAY = { year: 2024, month: 5, day: 1 };

/**
 * The instant of a rollup property's random hit: `day` days after 2024-05-01 in the site's zone,
 * `minute` minutes after that day's local midnight, plus `extraMs`.
 */
export function propertyHitTime(timezone: string, day: number, minute: number, extraMs = 0): Date {
  return new Date(startOfZonedDay(addDays(PROPERTY_FIRST_DAY, day), timezone).getTime() + minute * 60_000 + extraMs);
}
