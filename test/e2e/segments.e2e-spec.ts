import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';

const hit = (ip: string, timestamp: string, path: string, extra: Record<string, unknown> = {}) => ({
  url: `https://seg.example${path}`,
  ip,
  timestamp,
  userAgent: FIREFOX,
  ...extra,
});

/**
 * Four visitors (UTC site), one visit each:
 * - 10.0.0.1: `/` then `/pricing` then Signup {plan: pro}
 * - 10.0.0.2: `/pricing` then Signup {plan: free}
 * - 10.0.0.3: `/` then Signup {plan: team}, both on `/`
 * - 10.0.0.4: `/blog` then `/pricing`, on the next day
 * So `page is /pricing` holds for visitors 1, 2, 4; `prop:plan is pro` for visitor 1 only.
 */
const HITS = [
  hit('10.0.0.1', '2024-03-05T10:00:00Z', '/'),
  hit('10.0.0.1', '2024-03-05T10:01:00Z', '/pricing'),
  hit('10.0.0.1', '2024-03-05T10:02:00Z', '/pricing', { name: 'Signup', props: { plan: 'pro' } }),
  hit('10.0.0.2', '2024-03-05T11:00:00Z', '/pricing'),
  hit('10.0.0.2', '2024-03-05T11:01:00Z', '/pricing', { name: 'Signup', props: { plan: 'free' } }),
  hit('10.0.0.3', '2024-03-05T12:00:00Z', '/'),
  hit('10.0.0.3', '2024-03-05T12:01:00Z', '/', { name: 'Signup', props: { plan: 'team' } }),
  hit('10.0.0.4', '2024-03-06T09:00:00Z', '/blog'),
  hit('10.0.0.4', '2024-03-06T09:05:00Z', '/pricing'),
];

describe('saved segments: CRUD by admins, read by the site viewers, applied by id on every read endpoint', () => {
  let app: TestApp;
  let site: CreatedSite;
  let otherSite: CreatedSite;
  let admin: string;
  let viewer: string;
  let otherViewer: string;
  let readKey: string;
  let pricing: string;
  const clock = new FixedClock(new Date('2024-03-10T12:00:00Z'));
  const range = { from: '2024-03-01', to: '2024-03-10' };
  const segmentsOf = (siteId: string) => `/api/v1/sites/${siteId}/segments`;

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, admin, { domain: 'seg.example', timezone: 'UTC' });
    otherSite = await createSite(app.url, admin, { domain: 'other-seg.example', timezone: 'UTC' });
    const viewerAccount = await createUser(app.url, admin, { role: 'viewer', siteIds: [site.id] });
    viewer = (await login(app.url, viewerAccount.email, viewerAccount.password)).accessToken;
    const otherAccount = await createUser(app.url, admin, { role: 'viewer', siteIds: [otherSite.id] });
    otherViewer = (await login(app.url, otherAccount.email, otherAccount.password)).accessToken;
    readKey = (await createKey(app.url, admin, site.id, ['read'])).key;
    const ingestKey = (await createKey(app.url, admin, site.id, ['ingest'])).key;
    await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits: HITS }).expect(202);
    await app.app.get(SessionsService).flush();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('lets an admin save a segment, by site id or domain, with its filters normalized', async () => {
    const created = await request(app.url)
      .post(segmentsOf('seg.example'))
      .auth(admin, { type: 'bearer' })
      .send({ name: 'Pricing visitors', filters: [['is', 'page', '/pricing']] })
      .expect(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      siteId: site.id,
      name: 'Pricing visitors',
      filters: [['is', 'page', ['/pricing']]],
      missingGoals: [],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    pricing = created.body.id as string;
    const stored = await app.database.db.collection('segments').findOne({ name: 'Pricing visitors' });
    expect(stored?.siteId.toHexString()).toBe(site.id);
  });

  it('refuses malformed filters, an empty set, a duplicate name and unknown fields with a 400/409 naming them', async () => {
    const post = (body: object) =>
      request(app.url).post(segmentsOf(site.id)).auth(admin, { type: 'bearer' }).send(body);
    const badDimension = await post({
      name: 'Bad',
      filters: [
        ['is', 'page', '/'],
        ['is', 'planet', 'Mars'],
      ],
    }).expect(400);
    expect(badDimension.body.message).toContain('filters[1] dimension');
    const badOperator = await post({ name: 'Bad', filters: [['matches', 'page', '/']] }).expect(400);
    expect(badOperator.body.message).toContain('filters[0] operator');
    const injection = await post({ name: 'Bad', filters: [['is', 'page', { $ne: null }]] }).expect(400);
    expect(injection.body.message).toContain('filters[0] values');
    const empty = await post({ name: 'Bad', filters: [] }).expect(400);
    expect(empty.body.message).toContain('filters must contain at least one filter');
    const notList = await post({ name: 'Bad', filters: 'page=/' }).expect(400);
    expect(JSON.stringify(notList.body.message)).toContain('filters');
    const unknown = await post({ name: 'Bad', filters: [['is', 'page', '/']], color: 'red' }).expect(400);
    expect(JSON.stringify(unknown.body.message)).toContain('color');
    const duplicate = await post({ name: 'Pricing visitors', filters: [['is', 'page', '/']] }).expect(409);
    expect(duplicate.body.message).toContain('Pricing visitors');
    expect(await app.database.db.collection('segments').countDocuments({ name: 'Bad' })).toBe(0);
  });

  it("shows a site's segments to its viewers and read keys, not to other sites' viewers; only admins change them", async () => {
    for (const token of [viewer, readKey]) {
      const list = await request(app.url).get(segmentsOf(site.id)).auth(token, { type: 'bearer' }).expect(200);
      expect(list.body.map((segment: { id: string }) => segment.id)).toEqual([pricing]);
      await request(app.url)
        .get(`${segmentsOf(site.id)}/${pricing}`)
        .auth(token, { type: 'bearer' })
        .expect(200);
    }
    await request(app.url).get(segmentsOf(site.id)).auth(otherViewer, { type: 'bearer' }).expect(403);
    await request(app.url)
      .post(segmentsOf(site.id))
      .auth(viewer, { type: 'bearer' })
      .send({ name: 'Mine', filters: [['is', 'page', '/']] })
      .expect(403);
    await request(app.url)
      .patch(`${segmentsOf(site.id)}/${pricing}`)
      .auth(readKey, { type: 'bearer' })
      .send({ name: 'X' })
      .expect(403);
    await request(app.url)
      .delete(`${segmentsOf(site.id)}/${pricing}`)
      .auth(viewer, { type: 'bearer' })
      .expect(403);
    // The segment belongs to its site: through another site's path it does not exist.
    const elsewhere = await request(app.url)
      .get(`${segmentsOf(otherSite.id)}/${pricing}`)
      .auth(admin, { type: 'bearer' })
      .expect(404);
    expect(elsewhere.body.message).toContain(pricing);
  });

  it('ANDs the segment with the request filters on overview, timeseries and breakdown', async () => {
    const get = (path: string, params: Record<string, string>) =>
      request(app.url)
        .get(`/api/v1/stats/${path}`)
        .auth(viewer, { type: 'bearer' })
        .query({ siteId: site.id, ...range, ...params })
        .expect(200);
    const overview = await get('overview', { segment: pricing });
    expect(overview.body.results.visitors.value).toBe(3);
    expect(overview.body.results.pageviews.value).toBe(3);
    expect(overview.body.meta.segment).toBe(pricing);
    expect(overview.body.meta.filters).toEqual([{ operator: 'is', dimension: 'page', values: ['/pricing'] }]);
    // Segment and filters together: page is /pricing AND event_name is Signup = visitors 1 and 2.
    const both = await get('overview', { segment: pricing, filters: JSON.stringify([['is', 'event_name', 'Signup']]) });
    expect(both.body.results.visitors.value).toBe(2);
    expect(both.body.results.events.value).toBe(2);
    const timeseries = await get('timeseries', { segment: pricing, metrics: 'visitors', interval: 'day' });
    const byDay = Object.fromEntries(
      timeseries.body.results.map((row: { date: string; visitors: number }) => [row.date, row.visitors]),
    );
    expect(byDay).toMatchObject({ '2024-03-05': 2, '2024-03-06': 1, '2024-03-07': 0 });
    const breakdown = await get('breakdown', { segment: pricing, dimension: 'event_name', metrics: 'visitors' });
    expect(breakdown.body.results.map((row: { value: string; visitors: number }) => [row.value, row.visitors])).toEqual(
      [
        ['pageview', 3],
        ['Signup', 2],
      ],
    );
  });

  it('applies the segment in the general query and in the v2 API as ["is", "segment", [id]]', async () => {
    const body = { siteId: site.id, metrics: ['visitors', 'events'], dateRange: range, dimensions: ['prop:plan'] };
    const native = await request(app.url)
      .post('/api/v1/stats/query')
      .auth(readKey, { type: 'bearer' })
      .send({ ...body, segment: pricing, filters: [['is', 'event_name', ['Signup']]] })
      .expect(200);
    expect(
      native.body.results.map((row: { dimensions: Record<string, string>; metrics: { visitors: number } }) => [
        row.dimensions['prop:plan'],
        row.metrics.visitors,
      ]),
    ).toEqual([
      ['free', 1],
      ['pro', 1],
    ]);
    const v2 = await request(app.url)
      .post('/api/v2/query')
      .auth(readKey, { type: 'bearer' })
      .send({
        site_id: 'seg.example',
        metrics: ['visitors', 'pageviews'],
        date_range: [range.from, range.to],
        filters: [
          ['is', 'segment', [pricing]],
          ['is', 'visit:entry_page', ['/blog']],
        ],
      })
      .expect(200);
    // Entry page /blog: visitor 4 only; the segment keeps its /pricing view, not the /blog one.
    expect(v2.body.results).toEqual([{ dimensions: [], metrics: [1, 1] }]);
    const nested = await request(app.url)
      .post('/api/v2/query')
      .auth(readKey, { type: 'bearer' })
      .send({
        site_id: 'seg.example',
        metrics: ['visitors'],
        date_range: 'all',
        filters: [['not', ['is', 'segment', [pricing]]]],
      })
      .expect(400);
    expect(nested.body.error).toContain('segment');
  });

  it('applies the segment on the /api/v1/data endpoints, which take no other filter', async () => {
    const data = (path: string, params: Record<string, string> = {}) =>
      request(app.url)
        .get(`/api/v1/data/${path}`)
        .auth(readKey, { type: 'bearer' })
        .query({ start_date: range.from, end_date: range.to, ...params })
        .expect(200);
    // page is /pricing: visitors 1, 2 (on the 5th) and 4 (on the 6th), one /pricing view each.
    const users = await data('users', { segment: pricing });
    expect(users.body.total).toBe(3);
    expect(users.body.series.filter((point: { value: number }) => point.value > 0)).toEqual([
      { date: '2024-03-05', value: 2 },
      { date: '2024-03-06', value: 1 },
    ]);
    expect((await data('views', { segment: pricing })).body.total).toBe(3);
    expect((await data('urls', { segment: pricing })).body).toEqual([{ url: '/pricing', views: 3, users: 3 }]);
    // Without it, every page and all four visitors.
    expect((await data('users')).body.total).toBe(4);
    expect((await data('urls')).body.map((row: { url: string }) => row.url).sort()).toEqual(['/', '/blog', '/pricing']);
    const unknown = await request(app.url)
      .get('/api/v1/data/countries')
      .auth(readKey, { type: 'bearer' })
      .query({ start_date: range.from, end_date: range.to, segment: '665f1c2b9d3e4a0012345678' })
      .expect(404);
    expect(unknown.body.message).toBe('Segment 665f1c2b9d3e4a0012345678 not found on site seg.example');
  });

  it("answers 404 naming a segment that is not this site's, 400 for what is no id", async () => {
    const foreign = await request(app.url)
      .post(segmentsOf(otherSite.id))
      .auth(admin, { type: 'bearer' })
      .send({ name: 'Other', filters: [['is', 'page', '/']] })
      .expect(201);
    const foreignId = foreign.body.id as string;
    const overview = await request(app.url)
      .get('/api/v1/stats/overview')
      .auth(viewer, { type: 'bearer' })
      .query({ siteId: site.id, segment: foreignId })
      .expect(404);
    expect(overview.body.message).toBe(`Segment ${foreignId} not found on site seg.example`);
    const query = await request(app.url)
      .post('/api/v1/stats/query')
      .auth(admin, { type: 'bearer' })
      .send({ siteId: site.id, metrics: ['visitors'], segment: 'pricing' })
      .expect(400);
    expect(query.body.message).toContain('segment must be a segment id');
    const v2 = await request(app.url)
      .post('/api/v2/query')
      .auth(readKey, { type: 'bearer' })
      .send({
        site_id: 'seg.example',
        metrics: ['visitors'],
        date_range: 'all',
        filters: [['is', 'segment', [foreignId]]],
      })
      .expect(404);
    expect(v2.body.error).toContain(foreignId);
  });

  it('lets an admin rename a segment and replace its filters; a deleted one is 404 on reads', async () => {
    const patched = await request(app.url)
      .patch(`${segmentsOf(site.id)}/${pricing}`)
      .auth(admin, { type: 'bearer' })
      .send({ name: 'Blog visitors', filters: [['contains', 'page', ['blog']]] })
      .expect(200);
    expect(patched.body).toMatchObject({ name: 'Blog visitors', filters: [['contains', 'page', ['blog']]] });
    const overview = await request(app.url)
      .get('/api/v1/stats/overview')
      .auth(viewer, { type: 'bearer' })
      .query({ siteId: site.id, ...range, segment: pricing })
      .expect(200);
    expect(overview.body.results.visitors.value).toBe(1);
    const badPatch = await request(app.url)
      .patch(`${segmentsOf(site.id)}/${pricing}`)
      .auth(admin, { type: 'bearer' })
      .send({ filters: [['is', 'country']] })
      .expect(400);
    expect(badPatch.body.message).toContain('filters[0]');
    await request(app.url)
      .delete(`${segmentsOf(site.id)}/${pricing}`)
      .auth(admin, { type: 'bearer' })
      .expect(204);
    await request(app.url)
      .get('/api/v1/stats/overview')
      .auth(viewer, { type: 'bearer' })
      .query({ siteId: site.id, segment: pricing })
      .expect(404);
  });
});
