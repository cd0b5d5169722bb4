import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { getConnectionToken } from '@nestjs/mongoose';
import { ObjectId } from 'mongodb';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import {
  RETENTION_LEASE,
  RETENTION_SCHEDULE,
  RetentionJob,
  type RetentionSchedule,
} from '../../src/retention/retention-job.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { RollupJob, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { StatsRepository } from '../../src/stats/stats.repository.js';
import { sendHits, seedTotals } from '../factories/data-fixtures.js';
import { createIngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

const NOW = new Date('2024-06-15T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
/** Timers that never fire during a test: runs are triggered with runOnce(). */
const MANUAL: RetentionSchedule = { firstRunDelayMs: HOUR_MS, intervalMs: HOUR_MS };

function daysAgo(days: number, clock: FixedClock): string {
  return new Date(clock.now().getTime() - days * DAY_MS).toISOString();
}

/** What the stats endpoints read raw, and what they read from the rollups (StatsRepository methods). */
const RAW_READS = ['aggregateHitMetrics', 'aggregateVisitMetrics', 'findUserStats'] as const;
const ROLLUP_READS = [
  'aggregateRollupHitMetrics',
  'aggregateRollupHitCounts',
  'aggregateVisitorCounts',
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
  'stats_visitor_counts',
];

type Reads = 'rollups' | 'raw' | 'both';

/** Which kinds of StatsRepository reads were made while `read` ran. */
async function readsOf(app: TestApp, read: () => Promise<void>): Promise<Reads | 'none'> {
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

/**
 * Overview visitors/page views/visits and `/data/users`+`/views` totals over the range, and
 * `/stats/users` total users, with what answered them (`rollups`: no raw read at all).
 */
async function siteNumbers(
  app: TestApp,
  token: string,
  siteId: string,
  range: { from: string; to: string },
): Promise<{ numbers: Record<string, number>; reads: Reads | 'none' }> {
  const get = async (path: string, query: Record<string, string>) =>
    (await request(app.url).get(path).query(query).auth(token, { type: 'bearer' }).expect(200)).body as Record<
      string,
      unknown
    >;
  const numbers: Record<string, number> = {};
  const reads = await readsOf(app, async () => {
    const overview = (await get('/api/v1/stats/overview', { siteId, ...range })).results as Record<
      string,
      { value: number }
    >;
    for (const metric of ['visitors', 'pageviews', 'visits']) numbers[metric] = overview[metric].value;
    Object.assign(numbers, await seedTotals(app.url, token, siteId, range.from, range.to));
    numbers.totalUsers = ((await get('/api/v1/stats/users', { siteId })) as { totalUsers: number }).totalUsers;
  });
  return { numbers, reads };
}

/** The site's rows in every stats_* collection (through the app's mongoose connection): day, visitor, days returned from. */
async function rollupRows(
  app: TestApp,
  siteId: string,
): Promise<Array<{ collection: string; day: string; visitorKey?: string; returning: string[] }>> {
  const connection = app.app.get<Connection>(getConnectionToken());
  const rows = [];
  for (const collection of ROLLUP_COLLECTIONS) {
    const documents = await connection
      .db!.collection<{ day: string; visitorKey?: string; rows?: Array<{ returning: Array<{ p: string }> }> }>(
        collection,
      )
      .find({ siteId: new ObjectId(siteId) })
      .toArray();
    for (const { day, visitorKey, rows: counts } of documents)
      rows.push({
        collection,
        day,
        visitorKey,
        returning: (counts ?? []).flatMap((count) => count.returning.map((entry) => entry.p)),
      });
  }
  return rows;
}

async function startInstance(
  database: TestDatabase,
  clock: FixedClock,
  schedule: RetentionSchedule,
  retentionDays = '30',
  env: Record<string, string> = {},
): Promise<TestApp> {
  return startTestApp({
    database,
    env: { RETENTION_DAYS: retentionDays, INGEST_KEY_RATE_LIMIT: '0', ...env },
    override: (builder) =>
      builder.overrideProvider(Clock).useValue(clock).overrideProvider(RETENTION_SCHEDULE).useValue(schedule),
  });
}

describe('RETENTION_DAYS', () => {
  const apps: TestApp[] = [];
  const databases: TestDatabase[] = [];

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    for (const database of databases.splice(0)) await database.close();
  });

  async function database(): Promise<TestDatabase> {
    const created = await startTestDatabase();
    databases.push(created);
    return created;
  }

  async function hitsOf(app: TestApp, siteId: string): Promise<string[]> {
    await app.app.get(SessionsService).flush(siteId);
    const hits = await app.database.db
      .collection<{ path: string }>('hits')
      .find({ siteId: new ObjectId(siteId) })
      .sort({ ts: 1 })
      .toArray();
    return hits.map((hit) => hit.path);
  }

  it('one instance at a time removes hits older than RETENTION_DAYS and their visits; an expired lease is taken over', async () => {
    const db = await database();
    const clockA = new FixedClock(NOW);
    const clockB = new FixedClock(NOW);
    const a = await startInstance(db, clockA, MANUAL);
    apps.push(a);
    const b = await startInstance(db, clockB, MANUAL);
    apps.push(b);
    const site = await createIngestSite(a);
    await sendHits(a.url, site.key, [
      { timestamp: daysAgo(45, clockA), url: '/old-1', ip: '198.51.100.1' },
      { timestamp: daysAgo(31, clockA), url: '/old-2', ip: '198.51.100.2' },
      { timestamp: daysAgo(29, clockA), url: '/recent', ip: '198.51.100.3' },
    ]);
    await a.app.get(SessionsService).flush(site.siteId);
    const jobA = a.app.get(RetentionJob);
    const jobB = b.app.get(RetentionJob);

    const first = await jobA.runOnce();
    expect(first?.deleted).toEqual({ hits: 2, visits: 2 });
    expect(first?.cutoff.toISOString()).toBe(new Date(NOW.getTime() - 30 * DAY_MS).toISOString());
    expect(await hitsOf(a, site.siteId)).toEqual(['/recent']);
    expect(await a.database.db.collection('visits').countDocuments({ siteId: new ObjectId(site.siteId) })).toBe(1);

    // B may not run while A's lease (one interval) is valid; A itself renews it.
    await sendHits(a.url, site.key, [{ timestamp: daysAgo(40, clockA), url: '/old-3' }]);
    expect(await jobB.runOnce()).toBeNull();
    expect(await hitsOf(a, site.siteId)).toEqual(['/old-3', '/recent']);
    expect((await jobA.runOnce())?.deleted.hits).toBe(1);
    expect(
      await a.database.db.collection<{ _id: string; holder: string }>('leases').findOne({ _id: RETENTION_LEASE }),
    ).toMatchObject({ holder: jobA.holder });

    // A stops renewing (as if it died): once the lease expires, B takes over and A is locked out.
    clockA.advance(HOUR_MS + 1000);
    clockB.advance(HOUR_MS + 1000);
    await sendHits(a.url, site.key, [{ timestamp: daysAgo(35, clockB), url: '/old-4' }]);
    const takeover = await jobB.runOnce();
    expect(takeover?.deleted.hits).toBe(1);
    expect(await jobA.runOnce()).toBeNull();
    expect(
      await a.database.db.collection<{ _id: string; holder: string }>('leases').findOne({ _id: RETENTION_LEASE }),
    ).toMatchObject({ holder: jobB.holder });
    expect(await hitsOf(a, site.siteId)).toEqual(['/recent']);
  });

  it('runs by itself shortly after boot, and never when RETENTION_DAYS is 0', async () => {
    const kept = await startInstance(
      await database(),
      new FixedClock(NOW),
      { firstRunDelayMs: 10, intervalMs: HOUR_MS },
      '0',
    );
    apps.push(kept);
    const keptSite = await createIngestSite(kept);
    await sendHits(kept.url, keptSite.key, [{ timestamp: '2020-01-01T00:00:00Z' }]);
    expect(await kept.app.get(RetentionJob).runOnce()).toBeNull();
    expect(await hitsOf(kept, keptSite.siteId)).toEqual(['/']);

    const db = await database();
    const clock = new FixedClock(NOW);
    const seeding = await startInstance(db, clock, MANUAL, '0');
    const site = await createIngestSite(seeding);
    await sendHits(seeding.url, site.key, [
      { timestamp: daysAgo(60, clock), url: '/old' },
      { timestamp: daysAgo(1, clock), url: '/new' },
    ]);
    await seeding.close();

    const purging = await startInstance(db, clock, { firstRunDelayMs: 10, intervalMs: HOUR_MS });
    apps.push(purging);
    const deadline = Date.now() + 10_000;
    while ((await hitsOf(purging, site.siteId)).length > 1 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await hitsOf(purging, site.siteId)).toEqual(['/new']);
  });

  it('stats answered from rollups lose exactly the expired hits; a run that deletes nothing sends no site to a rebuild', async () => {
    const clock = new FixedClock(NOW);
    const app = await startInstance(await database(), clock, MANUAL, '30', bootstrapAdminEnv);
    apps.push(app);
    // Stops the rollup job's timer: the test runs it itself, so a site stays flagged until it does.
    await app.app.get(RollupJob).onApplicationShutdown();
    let token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    const rollups = app.app.get(RollupRepository);
    const rollUp = async () => {
      clock.advance(ROLLUP_SETTLE_MS + 1_000);
      expect((await app.app.get(RollupJob).runOnce()).ran).toBe(true);
    };
    const flagged = async (siteId: string) => (await rollups.findSiteState(siteId)).rebuild;
    const range = { from: '2024-05-01', to: '2024-06-15' };
    // The cut-off is 30 days before now, 2024-05-16T12:00Z (plus the minutes the rollup runs add).
    const site = await createIngestSite(app);
    await sendHits(app.url, site.key, [
      // A: an expired day and a kept day.
      { timestamp: '2024-05-06T10:00:00Z', url: '/a-old', ip: '198.51.100.11' },
      { timestamp: '2024-06-05T10:00:00Z', url: '/a-new', ip: '198.51.100.11' },
      // B: expired only.
      { timestamp: '2024-05-10T10:00:00Z', url: '/b-1', ip: '198.51.100.12' },
      { timestamp: '2024-05-12T10:00:00Z', url: '/b-2', ip: '198.51.100.12' },
      // C: kept only, one visit of two hits and one of one.
      { timestamp: '2024-05-26T10:00:00Z', url: '/c-1', ip: '198.51.100.13' },
      { timestamp: '2024-05-26T10:10:00Z', url: '/c-2', ip: '198.51.100.13' },
      { timestamp: '2024-06-10T10:00:00Z', url: '/c-3', ip: '198.51.100.13' },
    ]);
    // A site with nothing old: retention must leave its rows in use.
    const fresh = await createIngestSite(app);
    await sendHits(app.url, fresh.key, [{ timestamp: '2024-06-01T10:00:00Z', url: '/fresh', ip: '198.51.100.14' }]);
    await app.app.get(SessionsService).flush(site.siteId);
    const expiredVisitor = (
      await app.database.db
        .collection<{ visitorKey: string }>('hits')
        .findOne({ siteId: new ObjectId(site.siteId), path: '/b-1' })
    )?.visitorKey;
    expect(expiredVisitor).toBeDefined();
    await rollUp();

    const freshNumbers = { visitors: 1, pageviews: 1, visits: 1, users: 1, views: 1, totalUsers: 1 };
    expect(await siteNumbers(app, token, site.siteId, range)).toEqual({
      numbers: { visitors: 3, pageviews: 7, visits: 6, users: 3, views: 7, totalUsers: 3 },
      reads: 'rollups',
    });
    expect(await siteNumbers(app, token, fresh.siteId, range)).toEqual({ numbers: freshNumbers, reads: 'rollups' });
    const rowsBefore = await rollupRows(app, site.siteId);
    expect(rowsBefore.some((row) => row.day < '2024-05-16')).toBe(true);
    expect(rowsBefore.some((row) => row.visitorKey === expiredVisitor)).toBe(true);

    const job = app.app.get(RetentionJob);
    expect((await job.runOnce())?.deleted).toEqual({ hits: 3, visits: 3 });
    // A keeps /a-new (one visit), C all three hits (two visits); B is gone.
    const expected = { visitors: 2, pageviews: 4, visits: 3, users: 2, views: 4, totalUsers: 2 };
    expect(await flagged(site.siteId)).toBe(true);
    expect(await flagged(fresh.siteId)).toBe(false);
    expect(await siteNumbers(app, token, site.siteId, range)).toEqual({ numbers: expected, reads: 'raw' });
    expect(await siteNumbers(app, token, fresh.siteId, range)).toEqual({ numbers: freshNumbers, reads: 'rollups' });

    await rollUp();
    expect(await flagged(site.siteId)).toBe(false);
    expect(await siteNumbers(app, token, site.siteId, range)).toEqual({ numbers: expected, reads: 'rollups' });
    const rowsAfter = await rollupRows(app, site.siteId);
    expect(rowsAfter.length).toBeGreaterThan(0);
    expect(
      rowsAfter.filter((row) => row.day < '2024-05-16' || row.returning.some((day) => day < '2024-05-16')),
    ).toEqual([]);
    expect(rowsAfter.filter((row) => row.visitorKey === expiredVisitor)).toEqual([]);

    // The next hourly run finds nothing old: no site is flagged, every read stays on the rollups.
    clock.advance(HOUR_MS);
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    expect((await job.runOnce())?.deleted).toEqual({ hits: 0, visits: 0 });
    expect(await flagged(site.siteId)).toBe(false);
    expect(await flagged(fresh.siteId)).toBe(false);
    expect(await siteNumbers(app, token, site.siteId, range)).toEqual({ numbers: expected, reads: 'rollups' });
    expect(await siteNumbers(app, token, fresh.siteId, range)).toEqual({ numbers: freshNumbers, reads: 'rollups' });
  });
});
