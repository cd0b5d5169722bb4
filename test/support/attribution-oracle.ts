import { expect } from '@jest/globals';
import type { Db, ObjectId } from 'mongodb';
import { zonedParts } from '../../src/common/time/calendar.js';
import type { Filter, StatsQuery } from '../../src/stats/query/stats-query.js';
import type { StatsRepository } from '../../src/stats/stats.repository.js';

/**
 * A brute-force oracle for stats with visit-level attribution, independent of the pipelines and
 * of the sessionizer: it splits each visitor's hits into visits itself (time order, ties by id,
 * a gap longer than the idle timeout starts a visit), gives every hit the traffic source and
 * entry page of its visit, then counts by plain loops. Tests compare the raw pipelines with it.
 */

interface OracleHit {
  _id: ObjectId;
  ts: Date;
  visitorKey: string;
  classification: 'USER' | 'BOT';
  name: string;
  path: string;
  countryCode: string | null;
  region?: string | null;
  city?: string | null;
  source: string | null;
  referrer: string | null;
  utmCampaign: string | null;
  /** The sessionizer's visit, which the oracle does not use (tests may, to describe the data). */
  visitId: string | null;
}

interface OracleVisit {
  start: number;
  end: number;
  pageviews: number;
  classification: 'USER' | 'BOT';
  first: OracleHit;
  entryPath: string | null;
}

/** The dimensions the oracle knows: visit-level (from the visit's first hit or page view) and hit-level. */
export type OracleDimension =
  'source' | 'referrer' | 'utm_campaign' | 'entry_page' | 'page' | 'country' | 'region' | 'city';
const VISIT_LEVEL: ReadonlySet<OracleDimension> = new Set(['source', 'referrer', 'utm_campaign', 'entry_page']);

export interface OracleQuery {
  start: Date;
  end: Date;
  timezone: string;
  classification: 'USER' | 'BOT' | 'ALL';
  dimensions: OracleDimension[];
  /** `is` filters: the value of the dimension must be one of `values`. */
  filters: Array<{ dimension: OracleDimension; values: Array<string | null> }>;
  interval?: 'hour' | 'day' | 'week' | 'month';
}

export interface OracleAnswer {
  /** Per group key (`canonicalKey`): visitors, page views, events, bot hits, as the hit metrics. */
  hits: Map<string, { visitors: number; pageviews: number; events: number; botHits: number }>;
  /** Per group key: visits, bounces, duration (ms) and page views of the visits, as the visit metrics. */
  visits: Map<string, { visits: number; bounces: number; durationMs: number; visitPageviews: number }>;
}

/** The key of a group: its dimension values in query order, then the time bucket (or null). */
export function canonicalKey(values: Array<string | null>, time: string | null): string {
  return JSON.stringify([...values, time]);
}

export async function readOracleHits(db: Db, siteId: ObjectId): Promise<OracleHit[]> {
  return db.collection<OracleHit>('hits').find({ siteId }).toArray();
}

function sessionizeByBruteForce(hits: OracleHit[], idleMs: number): Map<OracleHit, OracleVisit> {
  const byVisitor = new Map<string, OracleHit[]>();
  for (const hit of hits) byVisitor.set(hit.visitorKey, [...(byVisitor.get(hit.visitorKey) ?? []), hit]);
  const visitOf = new Map<OracleHit, OracleVisit>();
  for (const own of byVisitor.values()) {
    own.sort((a, b) => a.ts.getTime() - b.ts.getTime() || a._id.toHexString().localeCompare(b._id.toHexString()));
    let visit: OracleVisit | undefined;
    for (const hit of own) {
      if (!visit || hit.ts.getTime() - visit.end > idleMs) {
        visit = {
          start: hit.ts.getTime(),
          end: hit.ts.getTime(),
          pageviews: 0,
          classification: hit.classification,
          first: hit,
          entryPath: null,
        };
      }
      visit.end = hit.ts.getTime();
      if (hit.name === 'pageview') {
        visit.pageviews += 1;
        visit.entryPath ??= hit.path;
      }
      visitOf.set(hit, visit);
    }
  }
  return visitOf;
}

function valueOf(dimension: OracleDimension, hit: OracleHit, visit: OracleVisit): string | null {
  switch (dimension) {
    case 'source':
      return visit.first.source ?? null;
    case 'referrer':
      return visit.first.referrer ?? null;
    case 'utm_campaign':
      return visit.first.utmCampaign ?? null;
    case 'entry_page':
      return visit.entryPath;
    case 'page':
      return hit.path;
    case 'country':
      return hit.countryCode ?? null;
    case 'region':
      return hit.region ?? null;
    case 'city':
      return hit.city ?? null;
  }
}

function bucket(instant: number, query: OracleQuery): string | null {
  if (!query.interval) return null;
  const parts = zonedParts(new Date(instant), query.timezone);
  const pad = (n: number) => String(n).padStart(2, '0');
  switch (query.interval) {
    case 'hour':
      return `${parts.year}-${pad(parts.month)}-${pad(parts.day)}T${pad(parts.hour)}:00`;
    case 'day':
      return `${parts.year}-${pad(parts.month)}-${pad(parts.day)}`;
    case 'month':
      return `${parts.year}-${pad(parts.month)}-01`;
    case 'week': {
      const day = new Date(Date.UTC(parts.year, parts.month - 1, parts.day));
      day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
      return day.toISOString().slice(0, 10);
    }
  }
}

/** Every hit metric and visit metric of `query`, counted hit by hit and visit by visit. */
export function bruteForceStats(allHits: OracleHit[], idleMs: number, query: OracleQuery): OracleAnswer {
  const visitOf = sessionizeByBruteForce(allHits, idleMs);
  const inRange = (instant: number) => instant >= query.start.getTime() && instant < query.end.getTime();
  const passes = (hit: OracleHit, visit: OracleVisit, levels: 'all' | 'hit' | 'visit') =>
    query.filters.every((filter) => {
      const visitLevel = VISIT_LEVEL.has(filter.dimension);
      if ((levels === 'hit' && visitLevel) || (levels === 'visit' && !visitLevel)) return true;
      return filter.values.includes(valueOf(filter.dimension, hit, visit));
    });

  const hitGroups = new Map<string, { visitors: Set<string>; pageviews: number; events: number; botHits: number }>();
  for (const [hit, visit] of visitOf) {
    if (!inRange(hit.ts.getTime())) continue;
    if (query.classification !== 'ALL' && hit.classification !== query.classification) continue;
    if (!passes(hit, visit, 'all')) continue;
    const key = canonicalKey(
      query.dimensions.map((dimension) => valueOf(dimension, hit, visit)),
      bucket(hit.ts.getTime(), query),
    );
    const group = hitGroups.get(key) ?? { visitors: new Set<string>(), pageviews: 0, events: 0, botHits: 0 };
    group.visitors.add(hit.visitorKey);
    group.pageviews += hit.name === 'pageview' ? 1 : 0;
    group.events += 1;
    group.botHits += hit.classification === 'BOT' ? 1 : 0;
    hitGroups.set(key, group);
  }

  // A visit counts once per group it has a matching hit in the range for (any hit when the query
  // names no hit-level dimension or filter), in the bucket of its start.
  const hitLevel = [...query.dimensions, ...query.filters.map((filter) => filter.dimension)].some(
    (dimension) => !VISIT_LEVEL.has(dimension),
  );
  const counted = new Set<string>();
  const visitGroups = new Map<
    string,
    { visits: number; bounces: number; durationMs: number; visitPageviews: number }
  >();
  for (const [hit, visit] of visitOf) {
    if (!inRange(visit.start)) continue;
    if (hitLevel && (!inRange(hit.ts.getTime()) || !passes(hit, visit, 'hit'))) continue;
    if (query.classification !== 'ALL' && visit.classification !== query.classification) continue;
    if (!passes(hit, visit, 'visit')) continue;
    const key = canonicalKey(
      query.dimensions.map((dimension) => valueOf(dimension, hit, visit)),
      bucket(visit.start, query),
    );
    const once = `${visit.first._id.toHexString()}|${key}`;
    if (counted.has(once)) continue;
    counted.add(once);
    const group = visitGroups.get(key) ?? { visits: 0, bounces: 0, durationMs: 0, visitPageviews: 0 };
    group.visits += 1;
    group.bounces += visit.pageviews === 1 ? 1 : 0;
    group.durationMs += visit.end - visit.start;
    group.visitPageviews += visit.pageviews;
    visitGroups.set(key, group);
  }

  return {
    hits: new Map(
      [...hitGroups].map(([key, group]) => [
        key,
        { visitors: group.visitors.size, pageviews: group.pageviews, events: group.events, botHits: group.botHits },
      ]),
    ),
    visits: visitGroups,
  };
}

/**
 * The raw hit and visit pipelines against the oracle over the same hits: every group's visitors,
 * page views, events and bot hits, and its visits, bounces, durations and page views of visits.
 * `query` is the pipelines' query; its dimensions and filters, restricted to the oracle's, are
 * `dimensions` and `filters`.
 */
export async function expectRawPipelinesMatchOracle(
  repository: StatsRepository,
  hits: OracleHit[],
  idleMs: number,
  query: StatsQuery,
  dimensions: OracleDimension[],
  filters: Array<Filter<OracleDimension>>,
): Promise<void> {
  const oracle = bruteForceStats(hits, idleMs, {
    ...query,
    dimensions,
    filters: filters.map((filter) => ({ dimension: filter.dimension, values: filter.values })),
  });
  const keyOf = (key: Record<string, unknown> | null) =>
    canonicalKey(
      dimensions.map((dimension) => (key?.[dimension] as string | null | undefined) ?? null),
      (key?.time as string | undefined) ?? null,
    );
  const hitRows = await repository.aggregateHitMetrics(query, { classification: true });
  expect(
    new Map(
      hitRows.map((row) => [
        keyOf(row.key),
        { visitors: row.visitors, pageviews: row.pageviews, events: row.events, botHits: row.botHits },
      ]),
    ),
  ).toEqual(oracle.hits);
  const visitRows = await repository.aggregateVisitMetrics(query);
  expect(
    new Map(
      visitRows.map((row) => [
        keyOf(row.key),
        {
          visits: row.visits,
          bounces: row.bounces,
          durationMs: Math.round(row.durationSeconds * 1000),
          visitPageviews: row.visitPageviews,
        },
      ]),
    ),
  ).toEqual(oracle.visits);
}
