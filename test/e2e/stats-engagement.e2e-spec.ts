import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const A = '81.2.69.142';
const B = '195.154.0.1';
const C = '46.4.0.1';

const hit = (ip: string, timestamp: string, path: string, extra: Record<string, unknown> = {}) => ({
  url: `https://engaged.example${path}`,
  ip,
  timestamp,
  userAgent: FIREFOX,
  ...extra,
});
const engagement = (ip: string, timestamp: string, path: string, engagementMs: number, scrollDepth: number) =>
  hit(ip, timestamp, path, { name: 'engagement', engagementMs, scrollDepth });

/**
 * Plausible's own worked example (its time-on-page test: /blog read 120 s + 20 s by one visitor
 * and 60 s by another → 100 s) plus a second page and a page nobody engaged with:
 * - A: /blog, engaged 120 s (scroll 40) and 20 s (scroll 80)
 * - B: /blog, engaged 60 s (scroll 50); /pricing, engaged 30 s (scroll 100)
 * - C: / only, no engagement record
 */
const HITS = [
  hit(A, '2024-03-05T10:00:00Z', '/blog'),
  engagement(A, '2024-03-05T10:10:00Z', '/blog', 120_000, 40),
  engagement(A, '2024-03-05T10:11:00Z', '/blog', 20_000, 80),
  hit(B, '2024-03-05T10:10:00Z', '/blog'),
  engagement(B, '2024-03-05T10:11:00Z', '/blog', 60_000, 50),
  hit(B, '2024-03-05T10:12:00Z', '/pricing'),
  engagement(B, '2024-03-05T10:13:00Z', '/pricing', 30_000, 100),
  hit(C, '2024-03-06T09:00:00Z', '/'),
];

describe('engagement metrics: time_on_page and scroll_depth', () => {
  let app: TestApp;
  let site: CreatedSite;
  let token: string;
  let readKey: string;
  const dateRange = { from: '2024-03-01', to: '2024-03-10' };
  const query = (body: Record<string, unknown>) =>
    request(app.url)
      .post('/api/v1/stats/query')
      .auth(token, { type: 'bearer' })
      .send({ siteId: site.id, dateRange, ...body });

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(new FixedClock(new Date('2024-03-10T12:00:00Z'))),
    });
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token, { domain: 'engaged.example', timezone: 'UTC' });
    const ingestKey = (await createKey(app.url, token, site.id, ['ingest'])).key;
    readKey = (await createKey(app.url, token, site.id, ['read'])).key;
    await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits: HITS }).expect(202);
    await app.app.get(SessionsService).flush();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('per page: engagement time ÷ engaged visitors, and the mean of each visitor’s deepest scroll', async () => {
    // /blog: (120 + 20 + 60) s / 2 = 100 s; deepest scrolls A 80, B 50 → 65 %. /pricing: 30 s, 100 %.
    // /: visited, never engaged → 0 and 0. Page views stay what the hits say (engagements are not hits).
    const response = await query({
      metrics: ['visitors', 'pageviews', 'time_on_page', 'scroll_depth'],
      dimensions: ['page'],
    }).expect(200);
    expect(response.body.results).toEqual([
      { dimensions: { page: '/blog' }, metrics: { visitors: 2, pageviews: 2, time_on_page: 100, scroll_depth: 65 } },
      { dimensions: { page: '/' }, metrics: { visitors: 1, pageviews: 1, time_on_page: 0, scroll_depth: 0 } },
      { dimensions: { page: '/pricing' }, metrics: { visitors: 1, pageviews: 1, time_on_page: 30, scroll_depth: 100 } },
    ]);
  });

  it('over the whole site: each visitor’s deepest scroll across pages; alone, only engaged groups are listed', async () => {
    // (120 + 20 + 60 + 30) s / 2 engaged visitors = 115 s; deepest: A 80, B 100 → 90 %.
    const total = await query({ metrics: ['time_on_page', 'scroll_depth'] }).expect(200);
    expect(total.body.results).toEqual([{ dimensions: {}, metrics: { time_on_page: 115, scroll_depth: 90 } }]);
    const byPage = await breakdown({ dimension: 'page', metrics: 'scroll_depth,time_on_page' });
    expect(byPage.body.results).toEqual([
      { value: '/pricing', label: '/pricing', scroll_depth: 100, time_on_page: 30 },
      { value: '/blog', label: '/blog', scroll_depth: 65, time_on_page: 100 },
    ]);
    // A filter on the page applies to engagement records as to hits.
    const filtered = await query({
      metrics: ['time_on_page'],
      filters: [['is', 'page', ['/blog']]],
    }).expect(200);
    expect(filtered.body.results).toEqual([{ dimensions: {}, metrics: { time_on_page: 100 } }]);
  });

  it('is the same through the Plausible-compatible API', async () => {
    const response = await request(app.url)
      .post('/api/v2/query')
      .auth(readKey, { type: 'bearer' })
      .send({
        site_id: 'engaged.example',
        metrics: ['visitors', 'time_on_page', 'scroll_depth'],
        date_range: ['2024-03-01', '2024-03-10'],
        dimensions: ['event:page'],
      })
      .expect(200);
    expect(response.body.results).toEqual([
      { dimensions: ['/blog'], metrics: [2, 100, 65] },
      { dimensions: ['/'], metrics: [1, 0, 0] },
      { dimensions: ['/pricing'], metrics: [1, 30, 100] },
    ]);
  });

  it('refuses dimensions engagement records do not have, naming them', async () => {
    const byName = await query({ metrics: ['time_on_page'], dimensions: ['event_name'] }).expect(400);
    expect(byName.body.message).toContain('cannot be grouped or filtered by event_name');
    const byEntry = await query({ metrics: ['scroll_depth'], filters: [['is', 'entry_page', ['/']]] }).expect(400);
    expect(byEntry.body.message).toContain('entry_page');
    // The traffic source is the visit's too (docs/metrics.md, visit-level attribution).
    const bySource = await query({ metrics: ['time_on_page'], dimensions: ['source', 'utm_campaign'] }).expect(400);
    expect(bySource.body.message).toContain('cannot be grouped or filtered by source, utm_campaign');
  });

  function breakdown(params: Record<string, string>) {
    return request(app.url)
      .get('/api/v1/stats/breakdown')
      .auth(token, { type: 'bearer' })
      .query({ siteId: site.id, ...dateRange, ...params })
      .expect(200);
  }
});
