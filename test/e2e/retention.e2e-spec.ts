import { afterEach, describe, expect, it } from '@jest/globals';
import { ObjectId } from 'mongodb';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import {
  RETENTION_LEASE,
  RETENTION_SCHEDULE,
  RetentionJob,
  type RetentionSchedule,
} from '../../src/retention/retention-job.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { sendHits } from '../factories/data-fixtures.js';
import { createIngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import {
  isFlaggedForRebuild,
  rollUp,
  rollupRows,
  rowsCountingDaysBefore,
  siteNumbers,
  stopRollupTimer,
} from '../support/rollup-inspection.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

const NOW = new Date('2024-06-15T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
/** Timers that never fire during a test: runs are triggered with runOnce(). */
const MANUAL: RetentionSchedule = { firstRunDelayMs: HOUR_MS, intervalMs: HOUR_MS };

function daysAgo(days: number, clock: FixedClock): string {
  return new Date(clock.now().getTime() - days * DAY_MS).toISOString();
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
    expect(first?.deleted).toEqual({ hits: 2, visits: 2, engagements: 0 });
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
    stopRollupTimer(app);
    let token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    const flagged = (siteId: string) => isFlaggedForRebuild(app, siteId);
    const range = { from: '2024-05-01', to: '2024-06-15' };
    // The site's stats numbers and what answered them; no hit here has a user id: identifiedUsers is left out.
    const numbersOf = async (siteId: string) => {
      const {
        numbers: { identifiedUsers: _identifiedUsers, ...numbers },
        reads,
      } = await siteNumbers(app, token, siteId, range);
      return { numbers, reads };
    };
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
    await rollUp(app, clock);

    const freshNumbers = { visitors: 1, pageviews: 1, visits: 1, users: 1, views: 1, totalUsers: 1 };
    expect(await numbersOf(site.siteId)).toEqual({
      numbers: { visitors: 3, pageviews: 7, visits: 6, users: 3, views: 7, totalUsers: 3 },
      reads: 'rollups',
    });
    expect(await numbersOf(fresh.siteId)).toEqual({ numbers: freshNumbers, reads: 'rollups' });
    const rowsBefore = await rollupRows(app, site.siteId);
    expect(rowsBefore.some((row) => row.day < '2024-05-16')).toBe(true);
    expect(rowsBefore.some((row) => row.visitorKey === expiredVisitor)).toBe(true);

    const job = app.app.get(RetentionJob);
    expect((await job.runOnce())?.deleted).toEqual({ hits: 3, visits: 3, engagements: 0 });
    // A keeps /a-new (one visit), C all three hits (two visits); B is gone.
    const expected = { visitors: 2, pageviews: 4, visits: 3, users: 2, views: 4, totalUsers: 2 };
    expect(await flagged(site.siteId)).toBe(true);
    expect(await flagged(fresh.siteId)).toBe(false);
    expect(await numbersOf(site.siteId)).toEqual({ numbers: expected, reads: 'raw' });
    expect(await numbersOf(fresh.siteId)).toEqual({ numbers: freshNumbers, reads: 'rollups' });

    await rollUp(app, clock);
    expect(await flagged(site.siteId)).toBe(false);
    expect(await numbersOf(site.siteId)).toEqual({ numbers: expected, reads: 'rollups' });
    const rowsAfter = await rollupRows(app, site.siteId);
    expect(rowsAfter.length).toBeGreaterThan(0);
    expect(rowsCountingDaysBefore(rowsAfter, '2024-05-16')).toEqual([]);
    expect(rowsAfter.filter((row) => row.visitorKey === expiredVisitor)).toEqual([]);

    // The next hourly run finds nothing old: no site is flagged, every read stays on the rollups.
    clock.advance(HOUR_MS);
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    expect((await job.runOnce())?.deleted).toEqual({ hits: 0, visits: 0, engagements: 0 });
    expect(await flagged(site.siteId)).toBe(false);
    expect(await flagged(fresh.siteId)).toBe(false);
    expect(await numbersOf(site.siteId)).toEqual({ numbers: expected, reads: 'rollups' });
    expect(await numbersOf(fresh.siteId)).toEqual({ numbers: freshNumbers, reads: 'rollups' });
  });
});
