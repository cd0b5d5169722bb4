import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { getConnectionToken } from '@nestjs/mongoose';
import { ObjectId } from 'mongodb';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { FixedClock, Clock } from '../../src/common/time/clock.js';
import { DataPurgeService } from '../../src/retention/data-purge.service.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { SitesService } from '../../src/sites/sites.service.js';
import { RollupJob, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { StatsRepository } from '../../src/stats/stats.repository.js';
import { sendHits, seedTotals, type KeyedHit } from '../factories/data-fixtures.js';
import { createKey, createSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = new Date('2024-06-15T12:00:00Z');

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

interface SiteNumbers {
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

describe('DELETE /api/v1/sites/:id/data and /users/:userId', () => {
  let app: TestApp;
  let admin: string;
  let sessions: SessionsService;
  let clock: FixedClock;

  beforeAll(async () => {
    clock = new FixedClock(NOW);
    app = await startTestApp({
      env: { ...bootstrapAdminEnv, INGEST_KEY_RATE_LIMIT: '0' },
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    sessions = app.app.get(SessionsService);
    // Stops the rollup job's timer: the tests run it themselves, so a site stays flagged until they do.
    await app.app.get(RollupJob).onApplicationShutdown();
  });

  afterAll(async () => {
    await app.close();
  });

  async function siteWithKey(timezone = 'UTC') {
    const site = await createSite(app.url, admin, { timezone });
    return { site, key: (await createKey(app.url, admin, site.id)).key };
  }

  async function storedHits(siteId: string): Promise<Array<{ ts: Date; path: string; visitId: string | null }>> {
    await sessions.flush(siteId);
    return app.database.db
      .collection<{ ts: Date; path: string; visitId: string | null }>('hits')
      .find({ siteId: new ObjectId(siteId) })
      .sort({ ts: 1 })
      .toArray();
  }

  /** One rollup run once the hits received so far have settled. */
  async function rollUp(): Promise<void> {
    clock.advance(ROLLUP_SETTLE_MS + 1_000);
    expect((await app.app.get(RollupJob).runOnce()).ran).toBe(true);
  }

  /** Which kinds of StatsRepository reads were made while `read` ran (`rollups`: no raw read at all). */
  async function readsOf(read: () => Promise<void>): Promise<'rollups' | 'raw' | 'both' | 'none'> {
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

  /** The numbers of the stats endpoints over the range (and all time for /stats/users), and what answered them. */
  async function siteNumbers(siteId: string, from: string, to: string) {
    const get = async (path: string, query: Record<string, string>) =>
      (await request(app.url).get(path).query(query).auth(admin, { type: 'bearer' }).expect(200)).body as Record<
        string,
        unknown
      >;
    const numbers = {} as SiteNumbers;
    const reads = await readsOf(async () => {
      const overview = (await get('/api/v1/stats/overview', { siteId, from, to })).results as Record<
        string,
        { value: number }
      >;
      numbers.visitors = overview.visitors.value;
      numbers.pageviews = overview.pageviews.value;
      numbers.visits = overview.visits.value;
      Object.assign(numbers, await seedTotals(app.url, admin, siteId, from, to));
      const userStats = (await get('/api/v1/stats/users', { siteId })) as Pick<
        SiteNumbers,
        'totalUsers' | 'identifiedUsers'
      >;
      numbers.totalUsers = userStats.totalUsers;
      numbers.identifiedUsers = userStats.identifiedUsers;
    });
    return { numbers, reads };
  }

  /** The site's rows in every stats_* collection, read through the app's mongoose connection. */
  async function rollupRows(
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
          // stats_visitor_counts: the previous active days visitors return from.
          returning: (counts ?? []).flatMap((count) => count.returning.map((entry) => entry.p)),
        });
    }
    return rows;
  }

  async function isFlaggedForRebuild(siteId: string): Promise<boolean> {
    return (await app.app.get(RollupRepository).findSiteState(siteId)).rebuild;
  }

  async function storedVisits(siteId: string) {
    await sessions.flush(siteId);
    return app.database.db
      .collection<{ _id: string; start: Date; hits: number }>('visits')
      .find({ siteId: new ObjectId(siteId) })
      .toArray();
  }

  it('purges exactly the hits before local midnight of the date, recomputes a visit it cuts, and the stats follow', async () => {
    const { site, key } = await siteWithKey('Europe/Berlin');
    // 2024-06-02 begins at 2024-06-01T22:00:00Z in Berlin (CEST, UTC+2).
    const hits: KeyedHit[] = [
      { timestamp: '2024-06-01T10:00:00Z', url: '/old-a', ip: '198.51.100.1' },
      { timestamp: '2024-06-01T21:50:00Z', url: '/old-b', ip: '198.51.100.2' },
      { timestamp: '2024-06-01T22:10:00Z', url: '/kept-a', ip: '198.51.100.2' },
      { timestamp: '2024-06-05T09:00:00Z', url: '/kept-b', ip: '198.51.100.3' },
    ];
    expect((await sendHits(app.url, key, hits)).accepted).toBe(4);
    const before = await seedTotals(app.url, admin, site.id, '2024-06-01', '2024-06-10');
    expect(before).toEqual({ users: 3, views: 4 });
    const visitsBefore = await storedVisits(site.id);
    expect(visitsBefore.map((visit) => visit.hits).sort()).toEqual([1, 1, 2]);

    const response = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/data`)
      .query({ before: '2024-06-02' })
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(response.body).toEqual({ before: '2024-06-01T22:00:00.000Z', deleted: { hits: 2, visits: 2 } });

    const remaining = await storedHits(site.id);
    expect(remaining.map((hit) => hit.path)).toEqual(['/kept-a', '/kept-b']);
    const visitsAfter = await storedVisits(site.id);
    // The visit /old-b → /kept-a was cut: it is recomputed as a one-hit visit starting at /kept-a.
    expect(visitsAfter.map((visit) => [visit.start.toISOString(), visit.hits]).sort()).toEqual([
      ['2024-06-01T22:10:00.000Z', 1],
      ['2024-06-05T09:00:00.000Z', 1],
    ]);
    expect(new Set(remaining.map((hit) => hit.visitId))).toEqual(new Set(visitsAfter.map((visit) => visit._id)));
    expect(await seedTotals(app.url, admin, site.id, '2024-06-01', '2024-06-10')).toEqual({ users: 2, views: 2 });
  });

  it('accepts the site domain as :id and rejects a date that is not one', async () => {
    const { site } = await siteWithKey();
    await request(app.url)
      .delete(`/api/v1/sites/${site.domain}/data`)
      .query({ before: '2024-06-02' })
      .auth(admin, { type: 'bearer' })
      .expect(200);
    const invalid = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/data`)
      .query({ before: '2024-02-30' })
      .auth(admin, { type: 'bearer' })
      .expect(400);
    expect((invalid.body as { message: string }).message).toMatch(/before/);
    const missing = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/data`)
      .auth(admin, { type: 'bearer' })
      .expect(400);
    expect((missing.body as { message: string }).message).toMatch(/before/);
  });

  it('erases only the identified user’s hits and visits and reports the counts', async () => {
    const { site, key } = await siteWithKey();
    await sendHits(app.url, key, [
      { timestamp: '2024-06-10T08:00:00Z', userId: 'alice', url: '/a1' },
      { timestamp: '2024-06-10T08:05:00Z', userId: 'alice', url: '/a2' },
      { timestamp: '2024-06-11T08:00:00Z', userId: 'alice', url: '/a3' },
      { timestamp: '2024-06-10T08:00:00Z', userId: 'bob', url: '/b1' },
      { timestamp: '2024-06-10T09:00:00Z', url: '/anonymous', ip: '198.51.100.9' },
    ]);
    expect(await storedVisits(site.id)).toHaveLength(4);

    const response = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/users/alice`)
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(response.body).toEqual({ deleted: { hits: 3, visits: 2 } });

    expect((await storedHits(site.id)).map((hit) => hit.path).sort()).toEqual(['/anonymous', '/b1']);
    expect(await storedVisits(site.id)).toHaveLength(2);
    const aliceKey = sessions.userKey(site.id, 'alice');
    expect(await app.database.db.collection('hits').countDocuments({ userKey: aliceKey })).toBe(0);

    const again = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/users/alice`)
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(again.body).toEqual({ deleted: { hits: 0, visits: 0 } });
  });

  it('is admin only: 401 without a token, 403 for a viewer, 404 for an unknown site', async () => {
    const { site } = await siteWithKey();
    await request(app.url).delete(`/api/v1/sites/${site.id}/data?before=2024-06-01`).expect(401);
    await request(app.url).delete(`/api/v1/sites/${site.id}/users/alice`).expect(401);
    const viewer = await createUser(app.url, admin, { role: 'viewer', siteIds: [site.id] });
    const viewerToken = (await login(app.url, viewer.email, viewer.password)).accessToken;
    await request(app.url)
      .delete(`/api/v1/sites/${site.id}/data?before=2024-06-01`)
      .auth(viewerToken, { type: 'bearer' })
      .expect(403);
    await request(app.url)
      .delete(`/api/v1/sites/${site.id}/users/alice`)
      .auth(viewerToken, { type: 'bearer' })
      .expect(403);
    await request(app.url)
      .delete('/api/v1/sites/000000000000000000000000/users/alice')
      .auth(admin, { type: 'bearer' })
      .expect(404);
    await request(app.url)
      .delete('/api/v1/sites/nowhere.example/data?before=2024-06-01')
      .auth(admin, { type: 'bearer' })
      .expect(404);
  });

  it('purge: the stats answered from rollups drop exactly the purged hits, before and after the rebuild, and no rollup row keeps a purged day', async () => {
    const { site, key } = await siteWithKey('Europe/Berlin');
    // before=2024-06-03 cuts at 2024-06-02T22:00:00Z (Berlin midnight, CEST).
    expect(
      (
        await sendHits(app.url, key, [
          // A: a purged day and a kept day, so one visitor stays.
          { timestamp: '2024-06-01T10:00:00Z', url: '/a-old', ip: '198.51.100.21' },
          { timestamp: '2024-06-06T10:00:00Z', url: '/a-new', ip: '198.51.100.21' },
          // B: only purged hits.
          { timestamp: '2024-06-02T10:00:00Z', url: '/b-old', ip: '198.51.100.22' },
          // C: one visit across the cut-off (Berlin 23:50 and 00:10): its second hit stays.
          { timestamp: '2024-06-02T21:50:00Z', url: '/c-old', ip: '198.51.100.23' },
          { timestamp: '2024-06-02T22:10:00Z', url: '/c-kept', ip: '198.51.100.23' },
          // D: only kept hits.
          { timestamp: '2024-06-08T09:00:00Z', url: '/d', ip: '198.51.100.24' },
        ])
      ).accepted,
    ).toBe(6);
    const purgedVisitor = (await storedHits(site.id)).find((hit) => hit.path === '/b-old') as unknown as {
      visitorKey: string;
    };
    await rollUp();

    // Answered from the rollups alone: what the purge must not leave behind.
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({
      numbers: { visitors: 4, pageviews: 6, visits: 5, users: 4, views: 6, totalUsers: 4, identifiedUsers: 0 },
      reads: 'rollups',
    });
    const rowsBefore = await rollupRows(site.id);
    expect(rowsBefore.some((row) => row.day < '2024-06-03')).toBe(true);
    expect(rowsBefore.some((row) => row.visitorKey === purgedVisitor.visitorKey)).toBe(true);

    const response = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/data`)
      .query({ before: '2024-06-03' })
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(response.body).toEqual({ before: '2024-06-02T22:00:00.000Z', deleted: { hits: 3, visits: 3 } });

    // A, C and D are left with /a-new, /c-kept and /d, one visit each.
    const expected: SiteNumbers = {
      visitors: 3,
      pageviews: 3,
      visits: 3,
      users: 3,
      views: 3,
      totalUsers: 3,
      identifiedUsers: 0,
    };
    // Until the job has rebuilt the site, its rows still count the purged hits: reads go raw.
    expect(await isFlaggedForRebuild(site.id)).toBe(true);
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'raw' });

    await rollUp();
    expect(await isFlaggedForRebuild(site.id)).toBe(false);
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'rollups' });
    const rowsAfter = await rollupRows(site.id);
    expect(rowsAfter.length).toBeGreaterThan(0);
    expect(
      rowsAfter.filter((row) => row.day < '2024-06-03' || row.returning.some((day) => day < '2024-06-03')),
    ).toEqual([]);
    expect(rowsAfter.filter((row) => row.visitorKey === purgedVisitor.visitorKey)).toEqual([]);
    // C's visit now starts at /c-kept, on the 3rd (Berlin).
    expect(
      rowsAfter
        .filter((row) => row.collection === 'stats_visit_hours')
        .map((row) => row.day)
        .sort(),
    ).toEqual(['2024-06-03', '2024-06-06', '2024-06-08']);
  });

  it('erasure: the stats answered from rollups drop exactly the user’s hits and visitor, and no rollup row keeps their visitor key', async () => {
    const { site, key } = await siteWithKey();
    await sendHits(app.url, key, [
      { timestamp: '2024-06-03T08:00:00Z', userId: 'alice', url: '/a1' },
      { timestamp: '2024-06-03T08:05:00Z', userId: 'alice', url: '/a2' },
      { timestamp: '2024-06-05T08:00:00Z', userId: 'alice', url: '/a3' },
      { timestamp: '2024-06-03T09:00:00Z', userId: 'bob', url: '/b1' },
      { timestamp: '2024-06-05T09:00:00Z', userId: 'bob', url: '/b2' },
      { timestamp: '2024-06-05T10:00:00Z', url: '/anonymous', ip: '198.51.100.31' },
    ]);
    const alice = sessions.visitorKey({ siteId: site.id, userId: 'alice', ip: '', userAgent: '', ts: NOW });
    await rollUp();

    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({
      numbers: { visitors: 3, pageviews: 6, visits: 5, users: 3, views: 6, totalUsers: 3, identifiedUsers: 2 },
      reads: 'rollups',
    });
    const aliceRows = (await rollupRows(site.id)).filter((row) => row.visitorKey === alice);
    expect(aliceRows.map((row) => row.collection)).toContain('stats_visitor_days');
    expect(aliceRows.map((row) => row.collection)).toContain('stats_visitor_sets');

    const response = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/users/alice`)
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(response.body).toEqual({ deleted: { hits: 3, visits: 2 } });

    // Bob (2 visits) and the anonymous visitor (1) are left, with 3 page views.
    const expected: SiteNumbers = {
      visitors: 2,
      pageviews: 3,
      visits: 3,
      users: 2,
      views: 3,
      totalUsers: 2,
      identifiedUsers: 1,
    };
    expect(await isFlaggedForRebuild(site.id)).toBe(true);
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'raw' });

    await rollUp();
    expect(await isFlaggedForRebuild(site.id)).toBe(false);
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'rollups' });
    const rowsAfter = await rollupRows(site.id);
    expect(rowsAfter.some((row) => row.collection === 'stats_visitor_days')).toBe(true);
    expect(rowsAfter.filter((row) => row.visitorKey === alice)).toEqual([]);

    // Erasing again deletes nothing: the site is not flagged, its rows stay in use.
    const again = await request(app.url)
      .delete(`/api/v1/sites/${site.id}/users/alice`)
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(again.body).toEqual({ deleted: { hits: 0, visits: 0 } });
    expect(await isFlaggedForRebuild(site.id)).toBe(false);
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'rollups' });
  });

  it('an erasure during a rebuild of the site keeps it flagged: its rows are rebuilt again, never served stale', async () => {
    const { site, key } = await siteWithKey();
    await sendHits(app.url, key, [
      { timestamp: '2024-06-03T08:00:00Z', userId: 'carol', url: '/c1' },
      { timestamp: '2024-06-04T08:00:00Z', url: '/anonymous', ip: '198.51.100.41' },
    ]);
    const carol = sessions.visitorKey({ siteId: site.id, userId: 'carol', ip: '', userAgent: '', ts: NOW });
    const siteView = await app.app.get(SitesService).findById(site.id);
    // The site's first run is a rebuild (no rows yet): carol is erased once its first day is rolled up.
    const repository = app.app.get(StatsRepository);
    const rollUpDay = repository.rollUpDay.bind(repository);
    let erased: unknown;
    const spy = jest.spyOn(repository, 'rollUpDay').mockImplementation(async (siteId, slice, timezone) => {
      await rollUpDay(siteId, slice, timezone);
      if (siteId.toHexString() === site.id && erased === undefined)
        erased = await app.app.get(DataPurgeService).eraseUser(siteView!, 'carol');
    });
    try {
      await rollUp();
    } finally {
      spy.mockRestore();
    }
    expect(erased).toEqual({ hits: 1, visits: 1 });
    // The rows of the 3rd were computed before the erasure and still hold carol.
    expect((await rollupRows(site.id)).some((row) => row.visitorKey === carol)).toBe(true);
    expect(await isFlaggedForRebuild(site.id)).toBe(true);
    const expected = { visitors: 1, pageviews: 1, visits: 1, users: 1, views: 1, totalUsers: 1, identifiedUsers: 0 };
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'raw' });

    await rollUp();
    expect(await isFlaggedForRebuild(site.id)).toBe(false);
    expect(await siteNumbers(site.id, '2024-06-01', '2024-06-10')).toEqual({ numbers: expected, reads: 'rollups' });
    expect((await rollupRows(site.id)).filter((row) => row.visitorKey === carol)).toEqual([]);
  });
});
