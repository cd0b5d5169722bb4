import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { FixedClock, Clock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { sendHits, seedTotals, type KeyedHit } from '../factories/data-fixtures.js';
import { createKey, createSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = new Date('2024-06-15T12:00:00Z');

describe('DELETE /api/v1/sites/:id/data and /users/:userId', () => {
  let app: TestApp;
  let admin: string;
  let sessions: SessionsService;

  beforeAll(async () => {
    const clock = new FixedClock(NOW);
    app = await startTestApp({
      env: { ...bootstrapAdminEnv, INGEST_KEY_RATE_LIMIT: '0' },
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    sessions = app.app.get(SessionsService);
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
});
