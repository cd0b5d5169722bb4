import { createHash } from 'node:crypto';
import type { Types } from 'mongoose';
import { PAGEVIEW, type Classification } from '../hits/hit.schema.js';
import type { Visit } from './schemas/visit.schema.js';

/**
 * The traffic-source fields a visit takes from its first hit (same names on hits and visits):
 * stats attribute every hit of a visit to these values of the visit, as Plausible and Google
 * Analytics do (docs/metrics.md, "Visit-level attribution").
 */
export const VISIT_ATTRIBUTION_FIELDS = [
  'source',
  'referrer',
  'utmSource',
  'utmMedium',
  'utmCampaign',
  'utmTerm',
  'utmContent',
] as const;
export type VisitAttributionField = (typeof VISIT_ATTRIBUTION_FIELDS)[number];
export type VisitAttribution = Record<VisitAttributionField, string | null>;

/** The fields of a hit that sessionization reads; an optional one may be absent from the stored hit, or null. */
export interface SessionHit extends Partial<VisitAttribution> {
  _id: Types.ObjectId;
  ts: Date;
  name: string;
  path: string;
  classification: Classification;
  countryCode?: string | null;
  visitId: string | null;
}

export interface VisitGroup {
  visit: Visit;
  hitIds: Types.ObjectId[];
}

/** Time order with the hit id as tie-breaker, so equal timestamps always sessionize the same way. */
export function compareHits(a: SessionHit, b: SessionHit): number {
  return a.ts.getTime() - b.ts.getTime() || a._id.toHexString().localeCompare(b._id.toHexString());
}

/** `_id` of a visit: derived from its first hit, so recomputing the same hits yields the same visit. */
export function visitIdFor(siteId: string, visitorKey: string, firstHitId: Types.ObjectId): string {
  return createHash('sha256').update(`${siteId}|${visitorKey}|${firstHitId.toHexString()}`).digest('hex').slice(0, 32);
}

/**
 * Splits one visitor's hits, sorted by `compareHits`, into visits: a new visit starts when the
 * gap to the previous hit is longer than `idleMs` (a gap of exactly `idleMs` continues the visit).
 */
export function sessionize(
  siteId: Types.ObjectId,
  visitorKey: string,
  sortedHits: SessionHit[],
  idleMs: number,
): VisitGroup[] {
  const groups: SessionHit[][] = [];
  let previous: SessionHit | undefined;
  for (const hit of sortedHits) {
    if (previous === undefined || hit.ts.getTime() - previous.ts.getTime() > idleMs) groups.push([hit]);
    else groups[groups.length - 1].push(hit);
    previous = hit;
  }
  return groups.map((hits) => ({ visit: toVisit(siteId, visitorKey, hits), hitIds: hits.map((hit) => hit._id) }));
}

function toVisit(siteId: Types.ObjectId, visitorKey: string, hits: SessionHit[]): Visit {
  const first = hits[0];
  const last = hits[hits.length - 1];
  const pageviews = hits.filter((hit) => hit.name === PAGEVIEW);
  return {
    _id: visitIdFor(siteId.toHexString(), visitorKey, first._id),
    siteId,
    visitorKey,
    start: first.ts,
    end: last.ts,
    pageviews: pageviews.length,
    hits: hits.length,
    bounce: pageviews.length === 1,
    duration: Math.round((last.ts.getTime() - first.ts.getTime()) / 1000),
    entryPath: pageviews[0]?.path ?? null,
    exitPath: pageviews[pageviews.length - 1]?.path ?? null,
    classification: first.classification,
    ...attributionOf(first),
    countryCode: first.countryCode ?? null,
  };
}

/** A hit's attribution fields, an absent one as null (a hit stores only the fields it has a value for). */
export function attributionOf(hit: Partial<VisitAttribution>): VisitAttribution {
  return Object.fromEntries(VISIT_ATTRIBUTION_FIELDS.map((field) => [field, hit[field] ?? null])) as VisitAttribution;
}
