import { expect, jest } from '@jest/globals';
import { getConnectionToken } from '@nestjs/mongoose';
import { ObjectId } from 'mongodb';
import type { Connection } from 'mongoose';
import request from 'supertest';
import type { FixedClock } from '../../src/common/time/clock.js';
import { RollupJob, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { contributionOf } from '../../src/stats/rollups/batch-deltas.js';
import { visitorRowOf } from '../../src/stats/rollups/visitor-row-names.js';
import { StatsRepository } from '../../src/stats/stats.repository.js';
import { seedTotals } from '../factories/data-fixtures.js';
import type { TestApp } from './test-app.js';

/**
 * What answered the stats endpoints, and what the rollup job left behind: for tests that delete
 * data (retention, purge, erasure) and check the rollups drop exactly what was deleted.
 */

/** What the stats endpoints read raw, and what they read from the rollups (StatsRepository methods). */
const RAW_READS = ['aggregateHitMetrics', 'aggregateVisitMetrics', 'findUserStats'] as const;
const ROLLUP_READS = [
  'aggregateRollupHitMetrics',
  'aggregateRollupHitCounts',
  'aggregateHitMetricsFromCounts',
  'aggregateRollupVisitMetrics',
  'findUserStatsFromRollup',
] as const;

type StatsRead = (typeof RAW_READS)[number] | (typeof ROLLUP_READS)[number];

/** Every stats_* collection holding rows derived from hits or visits. */
const ROLLUP_COLLECTIONS = [
  'stats_visitor_days',
  'stats_visitor_sets',
  'stats_hit_hours',
  'stats_hit_days',
  'stats_visit_hours',
  'stats_visit_sources',
  'stats_visitor_counts',
  'stats_visit_contributions',
];

/** `rollups`: no raw read at all; `none`: no read of either kind. */
export type StatsReads = 'rollups' | 'raw' | 'both' | 'none';

/** Which kinds of StatsRepository reads were made while `read` ran. */
export async function readsOf(app: TestApp, read: () => Promise<void>): Promise<StatsReads> {
  const repository = app.app.get(StatsRepository);
  const spy = (names: ReadonlyArray<StatsRead>) => names.map((name) => jest.spyOn(repository, name));
  const raw = spy(RAW_READS);
  const rolledUp = spy(ROLLUP_READS);
  try {
    await read();
    const called = (spies: typeof raw) => spies.some((one) => one.mock.calls.length > 0);
    if (called(raw)) return called(rolledUp) ? 'both' : 'raw';
    return called(rolledUp) ? 'rollups' : 'none';
  } finally {
    for (const one of [...raw, ...rolledUp]) one.mockRestore();
  }
}

export interface SiteNumbers {
  /** GET /api/v1/stats/overview over the range. */
  visitors: number;
  pageviews: number;
  visits: number;
  /** GET /api/v1/data/users and /views totals over the range. */
  users: number;
  views: number;
  /** GET /api/v1/stats/users (all time). */
  totalUsers: number;
  identifiedUsers: number;
}

/** The numbers of the stats endpoints over the range (and all time for /stats/users), and what answered them. */
export async function siteNumbers(
  app: TestApp,
  token: string,
  siteId: string,
  range: { from: string; to: string },
): Promise<{ numbers: SiteNumbers; reads: StatsReads }> {
  const get = async (path: string, query: Record<string, string>) =>
    (await request(app.url).get(path).query(query).auth(token, { type: 'bearer' }).expect(200)).body as Record<
      string,
      unknown
    >;
  const numbers = {} as SiteNumbers;
  const reads = await readsOf(app, async () => {
    const overview = (await get('/api/v1/stats/overview', { siteId, ...range })).results as Record<
      string,
      { value: number }
    >;
    numbers.visitors = overview.visitors.value;
    numbers.pageviews = overview.pageviews.value;
    numbers.visits = overview.visits.value;
    Object.assign(numbers, await seedTotals(app.url, token, siteId, range.from, range.to));
    const userStats = (await get('/api/v1/stats/users', { siteId })) as Pick<
      SiteNumbers,
      'totalUsers' | 'identifiedUsers'
    >;
    numbers.totalUsers = userStats.totalUsers;
    numbers.identifiedUsers = userStats.identifiedUsers;
  });
  return { numbers, reads };
}

export interface RollupRow {
  collection: string;
  day: string;
  visitorKey?: string;
  /** stats_visitor_counts: the previous active days visitors return from. */
  returning: string[];
}

/** The collections whose rows store their common fields short, read back through visitorRowOf. */
const VISITOR_ROW_COLLECTIONS: ReadonlySet<string> = new Set(['stats_visitor_days', 'stats_visitor_sets']);

interface InspectedRow {
  day?: string;
  visitorKey?: string;
  rows?: Array<{ returning: Array<{ p: string }> }>;
  // A visit's contribution: its visitor, and its start hour (stored compact, read by contributionOf).
  v?: string;
  current?: Parameters<typeof contributionOf>[0];
}

/** The site's rows in every stats_* collection, read through the app's mongoose connection. */
export async function rollupRows(app: TestApp, siteId: string): Promise<RollupRow[]> {
  const connection = app.app.get<Connection>(getConnectionToken());
  const rows: RollupRow[] = [];
  for (const collection of ROLLUP_COLLECTIONS) {
    const stored = await connection
      .db!.collection<InspectedRow>(collection)
      .find({ siteId: new ObjectId(siteId) })
      .toArray();
    const documents = VISITOR_ROW_COLLECTIONS.has(collection)
      ? stored.map((document) => visitorRowOf<InspectedRow>(document))
      : stored;
    for (const { day, visitorKey, rows: counts, v, current } of documents)
      rows.push({
        collection,
        day: day ?? (current ? contributionOf(current).day : ''),
        visitorKey: visitorKey ?? v,
        returning: (counts ?? []).flatMap((count) => count.returning.map((entry) => entry.p)),
      });
  }
  return rows;
}

/** The rows that still count a day before `day`: their own day, or a day visitors return from. */
export function rowsCountingDaysBefore(rows: RollupRow[], day: string): RollupRow[] {
  return rows.filter((row) => row.day < day || row.returning.some((returning) => returning < day));
}

/** Stops the rollup job's timer: the test runs it itself, so a site stays flagged until it does. */
export function stopRollupTimer(app: TestApp): void {
  app.app.get(RollupJob).stopSchedule();
}

/** One rollup run once the hits received so far have settled. */
export async function rollUp(app: TestApp, clock: FixedClock): Promise<void> {
  clock.advance(ROLLUP_SETTLE_MS + 1_000);
  expect((await app.app.get(RollupJob).runOnce()).ran).toBe(true);
}

export async function isFlaggedForRebuild(app: TestApp, siteId: string): Promise<boolean> {
  return (await app.app.get(RollupRepository).findSiteState(siteId)).rebuild;
}
