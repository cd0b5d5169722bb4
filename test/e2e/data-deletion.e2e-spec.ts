import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { FixedClock, Clock } from '../../src/common/time/clock.js';
import { DataPurgeService } from '../../src/retention/data-purge.service.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { SitesService } from '../../src/sites/sites.service.js';
import { VisitorCountsBuilder } from '../../src/stats/rollups/visitor-counts.builder.js';
import { sendHits, seedTotals, type KeyedHit } from '../factories/data-fixtures.js';
import { createKey, createSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import {
  isFlaggedForRebuild,
  rollUp,
  rollupRows,
  rowsCountingDaysBefore,
  siteNumbers,
  stopRollupTimer,
  type SiteNumbers,
} from '../support/rollup-inspection.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = new Date('2024-06-15T12:00:00Z');

/** The range every stats read here covers. */
const RANGE = { from: '2024-06-01', to: '2024-06-10' };

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
    stopRollupTimer(app);
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

  async function storedVisits(siteId: string) {
    await sessions.flush(siteId);
    return app.database.db
      .collection<{ _id: string; start: Date; hits: number }>('visits')
      .find({ siteId: new ObjectId(siteId) })
      .toArray();
  }

  /** DELETE /sites/:id/data as the admin; `site` is the site's id or domain. Returns the 200 body. */
  async function purge(site: string, before: string): Promise<unknown> {
    const response = await request(app.url)
      .delete(`/api/v1/sites/${site}/data`)
      .query({ before })
      .auth(admin, { type: 'bearer' })
      .expect(200);
    return response.body;
  }

  /** DELETE /sites/:id/users/:userId as the admin. Returns the 200 body. */
  async function erase(siteId: string, userId: string): Promise<unknown> {
    const response = await request(app.url)
      .delete(`/api/v1/sites/${siteId}/users/${userId}`)
      .auth(admin, { type: 'bearer' })
      .expect(200);
    return response.body;
  }

  /** The site's stats numbers over RANGE as the admin sees them, and what answered them. */
  function numbersOf(siteId: string) {
    return siteNumbers(app, admin, siteId, RANGE);
  }

  /**
   * After a deletion: the site is flagged and its reads go raw until the next rollup run has rebuilt
   * it; then the same numbers are answered from the rollups and the flag is cleared.
   */
  async function expectRawUntilRebuilt(siteId: string, expected: SiteNumbers): Promise<void> {
    expect(await isFlaggedForRebuild(app, siteId)).toBe(true);
    expect(await numbersOf(siteId)).toEqual({ numbers: expected, reads: 'raw' });
    await rollUp(app, clock);
    expect(await isFlaggedForRebuild(app, siteId)).toBe(false);
    expect(await numbersOf(siteId)).toEqual({ numbers: expected, reads: 'rollups' });
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

    expect(await purge(site.id, '2024-06-02')).toEqual({
      before: '2024-06-01T22:00:00.000Z',
      deleted: { hits: 2, visits: 2, engagements: 0 },
    });

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
    await purge(site.domain, '2024-06-02');
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

    expect(await erase(site.id, 'alice')).toEqual({ deleted: { hits: 3, visits: 2, engagements: 0 } });

    expect((await storedHits(site.id)).map((hit) => hit.path).sort()).toEqual(['/anonymous', '/b1']);
    expect(await storedVisits(site.id)).toHaveLength(2);
    const aliceKey = sessions.userKey(site.id, 'alice');
    expect(await app.database.db.collection('hits').countDocuments({ userKey: aliceKey })).toBe(0);

    expect(await erase(site.id, 'alice')).toEqual({ deleted: { hits: 0, visits: 0, engagements: 0 } });
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
    await rollUp(app, clock);

    // Answered from the rollups alone: what the purge must not leave behind.
    expect(await numbersOf(site.id)).toEqual({
      numbers: { visitors: 4, pageviews: 6, visits: 5, users: 4, views: 6, totalUsers: 4, identifiedUsers: 0 },
      reads: 'rollups',
    });
    const rowsBefore = await rollupRows(app, site.id);
    expect(rowsBefore.some((row) => row.day < '2024-06-03')).toBe(true);
    expect(rowsBefore.some((row) => row.visitorKey === purgedVisitor.visitorKey)).toBe(true);

    expect(await purge(site.id, '2024-06-03')).toEqual({
      before: '2024-06-02T22:00:00.000Z',
      deleted: { hits: 3, visits: 3, engagements: 0 },
    });

    // A, C and D are left with /a-new, /c-kept and /d, one visit each.
    const expected = { visitors: 3, pageviews: 3, visits: 3, users: 3, views: 3, totalUsers: 3, identifiedUsers: 0 };
    // Until the job has rebuilt the site, its rows still count the purged hits: reads go raw.
    await expectRawUntilRebuilt(site.id, expected);
    const rowsAfter = await rollupRows(app, site.id);
    expect(rowsAfter.length).toBeGreaterThan(0);
    expect(rowsCountingDaysBefore(rowsAfter, '2024-06-03')).toEqual([]);
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
    await rollUp(app, clock);

    expect(await numbersOf(site.id)).toEqual({
      numbers: { visitors: 3, pageviews: 6, visits: 5, users: 3, views: 6, totalUsers: 3, identifiedUsers: 2 },
      reads: 'rollups',
    });
    const aliceRows = (await rollupRows(app, site.id)).filter((row) => row.visitorKey === alice);
    expect(aliceRows.map((row) => row.collection)).toContain('stats_visitor_days');
    expect(aliceRows.map((row) => row.collection)).toContain('stats_visitor_sets');

    expect(await erase(site.id, 'alice')).toEqual({ deleted: { hits: 3, visits: 2, engagements: 0 } });

    // Bob (2 visits) and the anonymous visitor (1) are left, with 3 page views.
    const expected = { visitors: 2, pageviews: 3, visits: 3, users: 2, views: 3, totalUsers: 2, identifiedUsers: 1 };
    await expectRawUntilRebuilt(site.id, expected);
    const rowsAfter = await rollupRows(app, site.id);
    expect(rowsAfter.some((row) => row.collection === 'stats_visitor_days')).toBe(true);
    expect(rowsAfter.filter((row) => row.visitorKey === alice)).toEqual([]);

    // Erasing again deletes nothing: the site is not flagged, its rows stay in use.
    expect(await erase(site.id, 'alice')).toEqual({ deleted: { hits: 0, visits: 0, engagements: 0 } });
    expect(await isFlaggedForRebuild(app, site.id)).toBe(false);
    expect(await numbersOf(site.id)).toEqual({ numbers: expected, reads: 'rollups' });
  });

  it('an erasure during a rebuild of the site keeps it flagged: its rows are rebuilt again, never served stale', async () => {
    const { site, key } = await siteWithKey();
    await sendHits(app.url, key, [
      { timestamp: '2024-06-03T08:00:00Z', userId: 'carol', url: '/c1' },
      { timestamp: '2024-06-04T08:00:00Z', url: '/anonymous', ip: '198.51.100.41' },
    ]);
    const carol = sessions.visitorKey({ siteId: site.id, userId: 'carol', ip: '', userAgent: '', ts: NOW });
    const siteView = await app.app.get(SitesService).findById(site.id);
    // The site's first run is a rebuild (no rows yet): carol is erased once its hits are added to the rows.
    const counts = app.app.get(VisitorCountsBuilder);
    const rebuildSite = counts.rebuildSite.bind(counts);
    let erased: unknown;
    const spy = jest.spyOn(counts, 'rebuildSite').mockImplementation(async (siteId, today) => {
      if (siteId === site.id && erased === undefined)
        erased = await app.app.get(DataPurgeService).eraseUser(siteView!, 'carol');
      await rebuildSite(siteId, today);
    });
    try {
      await rollUp(app, clock);
    } finally {
      spy.mockRestore();
    }
    expect(erased).toEqual({ hits: 1, visits: 1, engagements: 0 });
    // The rows were computed before the erasure and still hold carol.
    expect((await rollupRows(app, site.id)).some((row) => row.visitorKey === carol)).toBe(true);
    const expected = { visitors: 1, pageviews: 1, visits: 1, users: 1, views: 1, totalUsers: 1, identifiedUsers: 0 };
    await expectRawUntilRebuilt(site.id, expected);
    expect((await rollupRows(app, site.id)).filter((row) => row.visitorKey === carol)).toEqual([]);
  });
});
