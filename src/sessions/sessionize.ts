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
  return continueVisits(siteId, visitorKey, undefined, sortedHits, idleMs);
}

/**
 * The visits of `last`, a visitor's stored visit, followed by hits that all come after its end
 * (sorted by `compareHits`): the same as `sessionize` over the visit's hits and these, without
 * reading the visit's hits again. The first group is `last` extended, holding only the new hits
 * it took, when the first of them is within `idleMs` of its end; the others are new visits.
 * Without `last`, it is `sessionize`.
 */
export function continueVisits(
  siteId: Types.ObjectId,
  visitorKey: string,
  last: Visit | undefined,
  sortedHits: SessionHit[],
  idleMs: number,
): VisitGroup[] {
  const groups: VisitGroup[] = [];
  let current: VisitGroup | undefined = last && { visit: asComputed(last), hitIds: [] };
  for (const hit of sortedHits) {
    if (current === undefined || hit.ts.getTime() - current.visit.end.getTime() > idleMs) {
      if (current !== undefined && current.hitIds.length > 0) groups.push(current);
      current = { visit: startVisit(siteId, visitorKey, hit), hitIds: [hit._id] };
    } else {
      appendHit(current.visit, hit);
      current.hitIds.push(hit._id);
    }
  }
  if (current !== undefined && current.hitIds.length > 0) groups.push(current);
  return groups;
}

/** A copy of a stored visit with its absent optional fields as null, as `sessionize` computes them. */
function asComputed(stored: Visit): Visit {
  return {
    ...stored,
    entryPath: stored.entryPath ?? null,
    exitPath: stored.exitPath ?? null,
    ...attributionOf(stored),
    countryCode: stored.countryCode ?? null,
  };
}

/** A visit of one hit: its `_id`, start, classification, country and traffic source are its first hit's for good. */
function startVisit(siteId: Types.ObjectId, visitorKey: string, first: SessionHit): Visit {
  const pageview = first.name === PAGEVIEW;
  return {
    _id: visitIdFor(siteId.toHexString(), visitorKey, first._id),
    siteId,
    visitorKey,
    start: first.ts,
    end: first.ts,
    pageviews: pageview ? 1 : 0,
    hits: 1,
    bounce: pageview,
    duration: 0,
    entryPath: pageview ? first.path : null,
    exitPath: pageview ? first.path : null,
    classification: first.classification,
    singleClass: true,
    ...attributionOf(first),
    countryCode: first.countryCode ?? null,
  };
}

/** Adds a hit at or after the visit's end: its end, counts, bounce, duration and exit page follow. */
function appendHit(visit: Visit, hit: SessionHit): void {
  visit.end = hit.ts;
  visit.hits++;
  visit.duration = Math.round((hit.ts.getTime() - visit.start.getTime()) / 1000);
  if (hit.name === PAGEVIEW) {
    visit.pageviews++;
    visit.entryPath ??= hit.path;
    visit.exitPath = hit.path;
  }
  visit.bounce = visit.pageviews === 1;
  if (hit.classification !== visit.classification) visit.singleClass = false;
}

/** A hit's attribution fields, an absent one as null (a hit stores only the fields it has a value for). */
export function attributionOf(hit: Partial<VisitAttribution>): VisitAttribution {
  return Object.fromEntries(VISIT_ATTRIBUTION_FIELDS.map((field) => [field, hit[field] ?? null])) as VisitAttribution;
}
