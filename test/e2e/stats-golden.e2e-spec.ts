import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { REVERSE_DNS_RESOLVER, ReverseDnsService } from '../../src/geo/reverse-dns.service.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { RollupJob } from '../../src/stats/rollups/rollup.job.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import {
  GOLDEN_HITS_IN_ORDER,
  GOLDEN_LATE_HIT,
  GOLDEN_NOW,
  GOLDEN_TIMEZONE,
  goldenReverseDns,
  sendHits,
} from '../factories/stats-dataset.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Every expected number below is worked out by hand from the table in
 * test/factories/stats-dataset.ts (hits #1–#16, visits A–J). Range used throughout unless said
 * otherwise: Feb 10–13 local = [2024-02-10T05:00Z, 2024-02-14T05:00Z), which holds hits
 * 1–12 and 15 (13 and 14 are on Feb 15, 16 on Feb 8).
 */
describe('stats golden dataset (America/New_York site, hits sent through the ingest API)', () => {
  let app: TestApp;
  let site: CreatedSite;
  let other: CreatedSite;
  let adminToken: string;
  let readKey: string;
  let ingestKey: string;
  let viewerToken: string;
  let clock: FixedClock;

  const get = (path: string, query: Record<string, string | number> = {}, token = adminToken) =>
    request(app.url)
      .get(path)
      .auth(token, { type: 'bearer' })
      .query({ siteId: site.id, ...query });
  const range = { from: '2024-02-10', to: '2024-02-13' };

  beforeAll(async () => {
    clock = new FixedClock(GOLDEN_NOW);
    app = await startTestApp({
      env: { ...bootstrapAdminEnv, REVERSE_DNS: 'on' },
      override: (builder) =>
        builder
          .overrideProvider(Clock)
          .useValue(clock)
          .overrideProvider(REVERSE_DNS_RESOLVER)
          .useValue(goldenReverseDns),
    });
    adminToken = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, adminToken, { domain: 'shop.example', timezone: GOLDEN_TIMEZONE });
    other = await createSite(app.url, adminToken, { domain: 'other.example' });
    ingestKey = (await createKey(app.url, adminToken, site.id, ['ingest'])).key;
    readKey = (await createKey(app.url, adminToken, site.id, ['read'])).key;
    const otherKey = (await createKey(app.url, adminToken, other.id, ['ingest'])).key;
    const viewer = await createUser(app.url, adminToken, { role: 'viewer', siteIds: [other.id] });
    viewerToken = (await login(app.url, viewer.email, viewer.password)).accessToken;

    await sendHits(app.url, ingestKey, GOLDEN_HITS_IN_ORDER);
    // Another site's traffic on the same days must never leak into shop.example's numbers.
    await sendHits(app.url, otherKey, [
      {
        url: 'https://other.example/',
        ip: '81.2.69.142',
        timestamp: '2024-02-10T15:00:00Z',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
      },
    ]);
    await app.app.get(SessionsService).flush();
    await app.app.get(ReverseDnsService).idle();
    await sendHits(app.url, ingestKey, [GOLDEN_LATE_HIT]);
    // Booting, ingesting and sessionizing take longer than the default 30 s on a loaded CI machine.
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  describe('GET /api/v1/data/* (all traffic unless classification is given)', () => {
    it('users: distinct visitors per local day; total is distinct over the range, not the sum', async () => {
      // Feb 10: V1 (#1,#2), V2 (#3), B1 (#4,#5), V3 (#6 at 23:50 local) → 4
      // Feb 11: V3 (#7 at 00:10 local) → 1;  Feb 12: V1 (#8), V4 (#9–#12) → 2;  Feb 13: V6 (#15) → 1
      // total: V1, V2, B1, V3, V4, V6 = 6 (the sum of days would be 8). Unpadded dates as site-analytics scripts send them.
      const response = await get('/api/v1/data/users', { start_date: '2024-2-10', end_date: '2024-2-13' }).expect(200);
      expect(response.body).toEqual({
        total: 6,
        series: [
          { date: '2024-02-10', value: 4 },
          { date: '2024-02-11', value: 1 },
          { date: '2024-02-12', value: 2 },
          { date: '2024-02-13', value: 1 },
        ],
      });
    });

    it('users with classification=USER drops the bot, and days without hits are zero', async () => {
      // Feb 9: nothing (V5 was on Feb 8); Feb 10: V1, V2, V3 → 3; Feb 11: 1; Feb 12: 2; Feb 13: 1; total V1–V4, V6 = 5
      const response = await get('/api/v1/data/users', {
        start_date: '2024-02-09',
        end_date: '2024-02-13',
        classification: 'USER',
      }).expect(200);
      expect(response.body).toEqual({
        total: 5,
        series: [
          { date: '2024-02-09', value: 0 },
          { date: '2024-02-10', value: 3 },
          { date: '2024-02-11', value: 1 },
          { date: '2024-02-12', value: 2 },
          { date: '2024-02-13', value: 1 },
        ],
      });
    });

    it('views: page views per local day (the signup event #10 is not a view)', async () => {
      // Feb 10: #1–#6 = 6; Feb 11: #7 = 1; Feb 12: #8, #9, #11, #12 = 4; Feb 13: #15 = 1; total 12
      const response = await get('/api/v1/data/views', { start_date: '2024-02-10', end_date: '2024-02-13' }).expect(
        200,
      );
      expect(response.body).toEqual({
        total: 12,
        series: [
          { date: '2024-02-10', value: 6 },
          { date: '2024-02-11', value: 1 },
          { date: '2024-02-12', value: 4 },
          { date: '2024-02-13', value: 1 },
        ],
      });
      // BOT only: #4, #5 on Feb 10
      const bots = await get('/api/v1/data/views', {
        start_date: '2024-02-10',
        end_date: '2024-02-11',
        classification: 'BOT',
      }).expect(200);
      expect(bots.body).toEqual({
        total: 2,
        series: [
          { date: '2024-02-10', value: 2 },
          { date: '2024-02-11', value: 0 },
        ],
      });
    });

    it('views by week are labelled by the Monday, in the site zone', async () => {
      // Feb 8–15: week of Mon Feb 5 holds #16 (Feb 8) and #1–#7 (Feb 10/11 local) = 8 views;
      // week of Mon Feb 12 holds #8, #9, #11, #12, #15, #13, #14 = 7 views. Total 15.
      const response = await get('/api/v1/data/views', {
        start_date: '2024-02-08',
        end_date: '2024-02-15',
        interval: 'week',
      }).expect(200);
      expect(response.body).toEqual({
        total: 15,
        series: [
          { date: '2024-02-05', value: 8 },
          { date: '2024-02-12', value: 7 },
        ],
      });
    });

    it('countries: users desc, ties by name; English names', async () => {
      // GB: V1 (#1,#2,#8) + V6 (#15) → 2 users, 4 views;  US: B1 (#4,#5) + V4 (#9,#11,#12) → 2 users, 5 views
      // FR: V2 (#3) → 1, 1;  DE: V3 (#6,#7) → 1, 2.  Ties: "United Kingdom" < "United States", "France" < "Germany".
      const response = await get('/api/v1/data/countries', { start_date: '2024-02-10', end_date: '2024-02-13' }).expect(
        200,
      );
      expect(response.body).toEqual([
        { country: 'United Kingdom', countryCode: 'GB', users: 2, views: 4 },
        { country: 'United States', countryCode: 'US', users: 2, views: 5 },
        { country: 'France', countryCode: 'FR', users: 1, views: 1 },
        { country: 'Germany', countryCode: 'DE', users: 1, views: 2 },
      ]);
    });

    it('cities: unknown cities show as Unknown with their country', async () => {
      // St Albans (ENG, GB): V1, V6 → 2 users, 4 views; no city in US: B1, V4 → 2, 5;
      // Paris (IDF, FR): V2 → 1, 1; no city in DE: V3 → 1, 2. Ties by city name: "St Albans" < "Unknown", "Paris" < "Unknown".
      const response = await get('/api/v1/data/cities', { start_date: '2024-02-10', end_date: '2024-02-13' }).expect(
        200,
      );
      expect(response.body).toEqual([
        { city: 'St Albans', region: 'ENG', country: 'United Kingdom', countryCode: 'GB', users: 2, views: 4 },
        { city: 'Unknown', region: null, country: 'United States', countryCode: 'US', users: 2, views: 5 },
        { city: 'Paris', region: 'IDF', country: 'France', countryCode: 'FR', users: 1, views: 1 },
        { city: 'Unknown', region: null, country: 'Germany', countryCode: 'DE', users: 1, views: 2 },
      ]);
    });

    it('urls: views desc, ties by path; limit and page', async () => {
      // /: #1, #3, #4, #6, #8 → 5 views, users V1, V2, B1, V3 = 4;  /about: #2, #5, #9 → 3 views, V1, B1, V4 = 3
      // /pricing: #7, #11 → 2, V3, V4 = 2;  /account: #15 → 1, 1;  /blog: #12 → 1, 1 (the late hit is counted)
      const all = await get('/api/v1/data/urls', { start_date: '2024-02-10', end_date: '2024-02-13' }).expect(200);
      expect(all.body).toEqual([
        { url: '/', views: 5, users: 4 },
        { url: '/about', views: 3, users: 3 },
        { url: '/pricing', views: 2, users: 2 },
        { url: '/account', views: 1, users: 1 },
        { url: '/blog', views: 1, users: 1 },
      ]);
      const second = await get('/api/v1/data/urls', {
        start_date: '2024-02-10',
        end_date: '2024-02-13',
        limit: 2,
        page: 2,
      }).expect(200);
      expect(second.body).toEqual([
        { url: '/pricing', views: 2, users: 2 },
        { url: '/account', views: 1, users: 1 },
      ]);
    });

    it('hostnames: network domains from reverse DNS, unresolved as Unknown', async () => {
      // googlebot.com: B1 (#4, #5) → 2 views, 1 user; Unknown: the other 10 views (12 − 2) from V1, V2, V3, V4, V6 = 5 users
      const response = await get('/api/v1/data/hostnames', { start_date: '2024-02-10', end_date: '2024-02-13' }).expect(
        200,
      );
      expect(response.body).toEqual([
        { hostname: 'Unknown', views: 10, users: 5 },
        { hostname: 'googlebot.com', views: 2, users: 1 },
      ]);
    });

    it('accepts a read-scoped site key as site-analytics scripts send it (raw Authorization header), without siteId', async () => {
      const response = await request(app.url)
        .get('/api/v1/data/views')
        .set('Authorization', readKey)
        .query({ start_date: '2024-02-13', end_date: '2024-02-13' })
        .expect(200);
      expect(response.body).toEqual({ total: 1, series: [{ date: '2024-02-13', value: 1 }] });
    });
  });

  describe('GET /api/v1/stats/users', () => {
    it('counts human visitors ever seen, active and new relative to the clock', async () => {
      // now = 2024-02-15T17:00Z. Human visitors: V1, V2, V3, V4, V5, V6 = 6 (B1 is a bot).
      // last hit ≥ now − 7×24 h (2024-02-08T17:00Z): V1 (Feb 12), V2 (Feb 15), V3, V4, V6 → 5; V5's only hit is Feb 8 12:00Z → no.
      // last hit ≥ now − 24 h: V2 (#13) → 1.  last hit ≥ now − 30 days: all 6.
      // first hit ≥ now − 7×24 h: V1, V2, V3, V4, V6 → 5.  identified (userId): V6 → 1.
      const response = await get('/api/v1/stats/users').expect(200);
      expect(response.body).toEqual({
        totalUsers: 6,
        activeUsersLast7Days: 5,
        activeUsersLast1Day: 1,
        activeUsersLast30Days: 6,
        newUsersLast7Days: 5,
        identifiedUsers: 1,
        meta: { siteId: site.id, domain: 'shop.example', now: '2024-02-15T17:00:00.000Z', visitorIdMode: 'ip' },
      });
    });
  });

  describe('GET /api/v1/stats/overview', () => {
    it('gives every headline metric with the previous period (Feb 6–9) for comparison', async () => {
      // Humans in Feb 10–13: visitors V1, V2, V3, V4, V6 = 5; pageviews #1,2,3,6,7,8,9,11,12,15 = 10; events +#10 = 11.
      // Visits starting in range (humans): A, B, C, E, F, G = 6 (E starts Feb 10 23:50 local and counts there;
      // F is ONE visit thanks to the late hit). Bounces B, C, G → 3/6 = 50.0 %.
      // Durations 600 + 0 + 0 + 1200 + 3000 + 0 = 4800 s / 6 = 800 s.  Visit pageviews 2+1+1+2+3+1 = 10 → 10/6 = 1.67.
      // Bot share over ALL hits in range: #4, #5 of 13 hits (1–12, 15) = 15.38 → 15.4 %.
      // Previous period Feb 6–9: V5's single page view (#16): 1 visitor, 1 visit, 1 pageview, 1 event, bounce 100 %,
      // 0 s, 1 view per visit, no bot hits. change = (value − previous) / previous × 100, null when previous is 0.
      const response = await get('/api/v1/stats/overview', range).expect(200);
      expect(response.body.results).toEqual({
        visitors: { value: 5, previous: 1, change: 400 },
        visits: { value: 6, previous: 1, change: 500 },
        pageviews: { value: 10, previous: 1, change: 900 },
        viewsPerVisit: { value: 1.67, previous: 1, change: 67 },
        bounceRate: { value: 50, previous: 100, change: -50 },
        visitDuration: { value: 800, previous: 0, change: null },
        events: { value: 11, previous: 1, change: 1000 },
        botShare: { value: 15.4, previous: 0, change: null },
      });
      expect(response.body.meta).toMatchObject({
        siteId: site.id,
        domain: 'shop.example',
        timezone: GOLDEN_TIMEZONE,
        from: '2024-02-10',
        to: '2024-02-13',
        comparison: { from: '2024-02-06', to: '2024-02-09' },
        sessionIdleMinutes: 30,
        visitorIdMode: 'ip',
        classification: 'USER',
        filters: [],
      });
    });

    it('counts bots only with classification=BOT', async () => {
      // B1: visitors 1, visit H (2 pv, 60 s, not a bounce), pageviews 2, bot share unchanged (15.4)
      const response = await get('/api/v1/stats/overview', { ...range, classification: 'BOT' }).expect(200);
      expect(response.body.results).toMatchObject({
        visitors: { value: 1 },
        visits: { value: 1 },
        pageviews: { value: 2 },
        bounceRate: { value: 0 },
        visitDuration: { value: 60 },
        botShare: { value: 15.4 },
      });
      expect(response.body.meta.classification).toBe('BOT');
    });

    it('resolves period=7d as the last 7 days including today (Feb 9–15 local)', async () => {
      // Humans Feb 9–15: V1, V2, V3, V4, V6 (V5 is Feb 8) = 5 visitors; pageviews 10 + #13 = 11
      const response = await get('/api/v1/stats/overview', { period: '7d' }).expect(200);
      expect(response.body.results.visitors.value).toBe(5);
      expect(response.body.results.pageviews.value).toBe(11);
      expect(response.body.meta).toMatchObject({
        from: '2024-02-09',
        to: '2024-02-15',
        period: '7d',
        comparison: { from: '2024-02-02', to: '2024-02-08' },
      });
      // previous Feb 2–8 holds V5's hit: 1 visitor
      expect(response.body.results.visitors.previous).toBe(1);
    });
  });

  describe('GET /api/v1/stats/timeseries', () => {
    it('buckets by local day, visits on the day they start, zeros where nothing happened', async () => {
      // Feb 10: visitors V1, V2, V3 = 3; visits A, C, E = 3; pageviews #1, #2, #3, #6 = 4; bounce C → 33.3
      // Feb 11: visitor V3 (#7); no visit starts; pageviews 1; bounce rate 0 (no visits)
      // Feb 12: V1, V4 = 2; visits B, F = 2; pageviews #8, #9, #11, #12 = 4; bounce B → 50
      // Feb 13: V6; visit G; 1 pageview; bounce 100
      const response = await get('/api/v1/stats/timeseries', {
        ...range,
        metrics: 'visitors,visits,pageviews,bounceRate',
      }).expect(200);
      expect(response.body.results).toEqual([
        { date: '2024-02-10', visitors: 3, visits: 3, pageviews: 4, bounceRate: 33.3 },
        { date: '2024-02-11', visitors: 1, visits: 0, pageviews: 1, bounceRate: 0 },
        { date: '2024-02-12', visitors: 2, visits: 2, pageviews: 4, bounceRate: 50 },
        { date: '2024-02-13', visitors: 1, visits: 1, pageviews: 1, bounceRate: 100 },
      ]);
      expect(response.body.meta).toMatchObject({ interval: 'day', timezone: GOLDEN_TIMEZONE });
    });

    it('period=day gives 24 local hours of today', async () => {
      // Today (Feb 15 local) has one human hit: #13 at 11:58 local.
      const response = await get('/api/v1/stats/timeseries', { period: 'day' }).expect(200);
      expect(response.body.results).toHaveLength(24);
      expect(response.body.results[0]).toEqual({ date: '2024-02-15T00:00', visitors: 0, pageviews: 0 });
      expect(response.body.results[11]).toEqual({ date: '2024-02-15T11:00', visitors: 1, pageviews: 1 });
      const total = (response.body.results as Array<{ pageviews: number }>).reduce(
        (sum, point) => sum + point.pageviews,
        0,
      );
      expect(total).toBe(1);
    });

    it('month buckets are labelled by the 1st', async () => {
      // Humans Jan 20 – Feb 15: Jan: nothing; Feb: V1–V6 = 6 visitors
      const response = await get('/api/v1/stats/timeseries', {
        from: '2024-01-20',
        to: '2024-02-15',
        interval: 'month',
        metrics: 'visitors',
      }).expect(200);
      expect(response.body.results).toEqual([
        { date: '2024-01-01', visitors: 0 },
        { date: '2024-02-01', visitors: 6 },
      ]);
    });
  });

  describe('GET /api/v1/stats/breakdown', () => {
    it('country, with visits that contain a hit from the country', async () => {
      // GB: V1 (#1, #2, #8), V6 (#15) → visitors 2, pageviews 4, visits A, B, G = 3, bounces B, G → 66.7
      // US: V4 → 1, 3 pageviews, visit F, 0 %;  FR: V2 → 1, 1, visit C, 100 %;  DE: V3 → 1, 2, visit E, 0 %
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'country',
        metrics: 'visitors,pageviews,visits,bounceRate',
      }).expect(200);
      expect(response.body.results).toEqual([
        { value: 'GB', label: 'United Kingdom', visitors: 2, pageviews: 4, visits: 3, bounceRate: 66.7 },
        { value: 'FR', label: 'France', visitors: 1, pageviews: 1, visits: 1, bounceRate: 100 },
        { value: 'DE', label: 'Germany', visitors: 1, pageviews: 2, visits: 1, bounceRate: 0 },
        { value: 'US', label: 'United States', visitors: 1, pageviews: 3, visits: 1, bounceRate: 0 },
      ]);
      expect(response.body.pagination).toEqual({ page: 1, limit: 100, total: 4 });
    });

    it('entry_page, a visit-level dimension', async () => {
      // Entry pages of the human visits: A, B, C, E enter on / ; F on /about ; G on /account.
      // '/': visitors V1, V2, V3 = 3; pageviews of their hits in range: A 2 + B 1 + C 1 + E 2 = 6; visits 4; bounces B, C → 50
      // '/about': V4 → 1 visitor, 3 pageviews, 1 visit, 0 %;  '/account': V6 → 1, 1, 1 visit, 100 %
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'entry_page',
        metrics: 'visitors,pageviews,visits,bounceRate',
      }).expect(200);
      expect(response.body.results).toEqual([
        { value: '/', label: '/', visitors: 3, pageviews: 6, visits: 4, bounceRate: 50 },
        { value: '/about', label: '/about', visitors: 1, pageviews: 3, visits: 1, bounceRate: 0 },
        { value: '/account', label: '/account', visitors: 1, pageviews: 1, visits: 1, bounceRate: 100 },
      ]);
    });

    it('event name (alias event), sorted by the first metric', async () => {
      // pageview: 10 human page views by 5 visitors; signup: #10 by V4
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'event',
        metrics: 'events,visitors',
      }).expect(200);
      expect(response.body.results).toEqual([
        { value: 'pageview', label: 'pageview', events: 10, visitors: 5 },
        { value: 'signup', label: 'signup', events: 1, visitors: 1 },
      ]);
    });

    it('source: no referrer is Direct / None', async () => {
      // #3 (V2) came from news.example.org; every other human hit is direct: V1, V3, V4, V6 → 4 visitors
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'source',
        metrics: 'visitors',
      }).expect(200);
      expect(response.body.results).toEqual([
        { value: null, label: 'Direct / None', visitors: 4 },
        { value: 'news.example.org', label: 'news.example.org', visitors: 1 },
      ]);
    });

    it('classification and bot_reason over all traffic', async () => {
      const byClass = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'classification',
        classification: 'ALL',
        metrics: 'visitors,pageviews',
      }).expect(200);
      // USER: 5 visitors, 10 page views; BOT: B1, #4 + #5
      expect(byClass.body.results).toEqual([
        { value: 'USER', label: 'USER', visitors: 5, pageviews: 10 },
        { value: 'BOT', label: 'BOT', visitors: 1, pageviews: 2 },
      ]);
      const byReason = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'bot_reason',
        classification: 'BOT',
      }).expect(200);
      expect(byReason.body.results).toEqual([{ value: 'isbot', label: 'isbot', visitors: 1, pageviews: 2 }]);
    });

    it('device and browser from the user agent', async () => {
      // V4 used an iPhone (mobile, Mobile Safari); V1, V2, V3, V6 Firefox on desktop
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension: 'device',
        metrics: 'visitors',
      }).expect(200);
      expect(response.body.results).toEqual([
        { value: 'desktop', label: 'desktop', visitors: 4 },
        { value: 'mobile', label: 'mobile', visitors: 1 },
      ]);
    });
  });

  describe('POST /api/v1/stats/query', () => {
    it('groups by page with a country filter given as data, ordered as asked', async () => {
      // Human hits from GB or US: V1 #1 (/), #2 (/about), #8 (/); V6 #15 (/account); V4 #9 (/about), #10 (event), #11 (/pricing), #12 (/blog)
      // '/': 1 visitor, 2 pageviews; '/about': V1 + V4 = 2, 2; '/account', '/blog', '/pricing': 1, 1 each.
      // orderBy pageviews desc, then the default tie-breaks: first metric (visitors) desc, then page asc.
      const response = await request(app.url)
        .post('/api/v1/stats/query')
        .auth(adminToken, { type: 'bearer' })
        .send({
          siteId: 'shop.example',
          metrics: ['visitors', 'pageviews'],
          dateRange: range,
          dimensions: ['page'],
          filters: [['is', 'country', ['GB', 'US']]],
          orderBy: [{ field: 'pageviews', direction: 'desc' }],
        })
        .expect(200);
      expect(response.body.results).toEqual([
        { dimensions: { page: '/about' }, metrics: { visitors: 2, pageviews: 2 } },
        { dimensions: { page: '/' }, metrics: { visitors: 1, pageviews: 2 } },
        { dimensions: { page: '/account' }, metrics: { visitors: 1, pageviews: 1 } },
        { dimensions: { page: '/blog' }, metrics: { visitors: 1, pageviews: 1 } },
        { dimensions: { page: '/pricing' }, metrics: { visitors: 1, pageviews: 1 } },
      ]);
      expect(response.body.meta.filters).toEqual([{ operator: 'is', dimension: 'country', values: ['GB', 'US'] }]);
    });

    it('counts visits containing a matching hit with contains / is_not', async () => {
      // Paths containing "PRIC" (case-insensitive): #7 in visit E, #11 in visit F → 2 visits, visitors V3, V4
      const contains = await request(app.url)
        .post('/api/v1/stats/query')
        .auth(adminToken, { type: 'bearer' })
        .send({
          siteId: site.id,
          metrics: ['visits', 'visitors'],
          dateRange: range,
          filters: [['contains', 'page', ['PRIC']]],
        })
        .expect(200);
      expect(contains.body.results).toEqual([{ dimensions: {}, metrics: { visits: 2, visitors: 2 } }]);
      // Not from GB: V2, V3, V4 → 3 visitors; their visits C, E, F
      const notGb = await request(app.url)
        .post('/api/v1/stats/query')
        .auth(adminToken, { type: 'bearer' })
        .send({
          siteId: site.id,
          metrics: ['visitors', 'visits'],
          dateRange: range,
          filters: [['is_not', 'country', 'GB']],
        })
        .expect(200);
      expect(notGb.body.results).toEqual([{ dimensions: {}, metrics: { visitors: 3, visits: 3 } }]);
    });

    it('groups by time and a dimension together', async () => {
      // Human page views per local day and device (Feb 12–13): Feb 12 desktop #8, mobile #9 #11 #12; Feb 13 desktop #15
      const response = await request(app.url)
        .post('/api/v1/stats/query')
        .auth(adminToken, { type: 'bearer' })
        .send({
          siteId: site.id,
          metrics: ['pageviews'],
          dateRange: { from: '2024-02-12', to: '2024-02-13' },
          dimensions: ['device'],
          interval: 'day',
        })
        .expect(200);
      expect(response.body.results).toEqual([
        { dimensions: { device: 'mobile' }, time: '2024-02-12', metrics: { pageviews: 3 } },
        { dimensions: { device: 'desktop' }, time: '2024-02-12', metrics: { pageviews: 1 } },
        { dimensions: { device: 'desktop' }, time: '2024-02-13', metrics: { pageviews: 1 } },
      ]);
    });

    it('rejects operators smuggled in as values, unknown dimensions and unknown operators', async () => {
      const send = (filters: unknown) =>
        request(app.url)
          .post('/api/v1/stats/query')
          .auth(adminToken, { type: 'bearer' })
          .send({ siteId: site.id, metrics: ['visitors'], filters });
      const smuggled = await send([['is', 'country', [{ $ne: null }]]]).expect(400);
      expect(smuggled.body.message).toContain('filters[0]');
      await send([['$where', 'country', ['x']]]).expect(400);
      await send([['is', 'visitorKey', ['x']]]).expect(400);
      await send({ country: 'DE' }).expect(400);
      const badMetric = await request(app.url)
        .post('/api/v1/stats/query')
        .auth(adminToken, { type: 'bearer' })
        .send({ siteId: site.id, metrics: ['revenue'] })
        .expect(400);
      expect(badMetric.body.message).toContain('metrics');
    });

    it('refuses null for a field with 400 naming it, nested fields by their path', async () => {
      const send = (body: Record<string, unknown>) =>
        request(app.url)
          .post('/api/v1/stats/query')
          .auth(adminToken, { type: 'bearer' })
          .send({ siteId: site.id, metrics: ['visitors'], ...body })
          .expect(400);
      const from = await send({ dateRange: { from: null, to: '2024-02-13' } });
      expect(from.body.message).toMatch(/\bdateRange\.from must be a string/);
      const to = await send({ dateRange: { from: '2024-02-12', to: null } });
      expect(to.body.message).toMatch(/\bdateRange\.to must be a string/);
      // Left out, a field takes its default; null is not a way to ask for it.
      expect((await send({ siteId: null })).body.message).toMatch(/\bsiteId must be a string/);
      expect((await send({ limit: null })).body.message).toMatch(/\blimit must be an integer/);
    });
  });

  describe('GET /api/v1/stats/realtime', () => {
    it('counts visitors of the last 5 minutes', async () => {
      // Window (16:55Z, 17:00Z]: #13 (V2, human, 16:58) and #14 (B1, bot, 16:57)
      const humans = await get('/api/v1/stats/realtime').expect(200);
      expect(humans.body).toMatchObject({
        visitors: 1,
        pageviews: 1,
        meta: { windowMinutes: 5, classification: 'USER', until: '2024-02-15T17:00:00.000Z' },
      });
      const all = await get('/api/v1/stats/realtime', { classification: 'ALL' }).expect(200);
      expect(all.body).toMatchObject({ visitors: 2, pageviews: 2 });
    });
  });

  describe('access and validation', () => {
    it('401 without credentials, 403 for a viewer of another site, and the viewer sees only its own site', async () => {
      await request(app.url)
        .get('/api/v1/data/users')
        .query({ start_date: '2024-02-10', end_date: '2024-02-13' })
        .expect(401);
      await request(app.url).get('/api/v1/stats/overview').expect(401);
      const denied = await get(
        '/api/v1/data/users',
        { start_date: '2024-02-10', end_date: '2024-02-13' },
        viewerToken,
      ).expect(403);
      expect(denied.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      await get('/api/v1/stats/users', {}, viewerToken).expect(403);
      // The viewer's own site holds exactly one hit on Feb 10 (UTC site): 1 user.
      const own = await request(app.url)
        .get('/api/v1/data/users')
        .auth(viewerToken, { type: 'bearer' })
        .query({ start_date: '2024-02-10', end_date: '2024-02-10' })
        .expect(200);
      expect(own.body).toEqual({ total: 1, series: [{ date: '2024-02-10', value: 1 }] });
    });

    it('a read key cannot read another site, and an ingest-only key cannot read at all', async () => {
      await request(app.url)
        .get('/api/v1/data/users')
        .set('Authorization', readKey)
        .query({ siteId: other.id, start_date: '2024-02-10', end_date: '2024-02-13' })
        .expect(403);
      await request(app.url)
        .get('/api/v1/data/users')
        .set('Authorization', ingestKey)
        .query({ start_date: '2024-02-10', end_date: '2024-02-13' })
        .expect(403);
    });

    it.each([
      [{ start_date: '2024-02-30', end_date: '2024-03-01' }, 'start_date'],
      [{ start_date: '2024-02-10', end_date: 'yesterday' }, 'end_date'],
      [{ start_date: '2024-02-13', end_date: '2024-02-10' }, 'start_date'],
      [{ start_date: '2010-01-01', end_date: '2020-01-01' }, 'end_date'],
      [{ start_date: '2024-02-10', end_date: '2024-02-13', classification: 'HUMAN' }, 'classification'],
      [{ start_date: '2024-02-10', end_date: '2024-02-13', limit: 0 }, 'limit'],
      [{ start_date: '2024-02-10', end_date: '2024-02-13', page: 'two' }, 'page'],
      [{ end_date: '2024-02-13' }, 'start_date'],
    ])('data endpoint 400 names the parameter (%j)', async (query, parameter) => {
      const response = await get('/api/v1/data/countries', query).expect(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(response.body.message).toContain(parameter);
    });

    it('accepts a range of exactly 10 years', async () => {
      await get('/api/v1/data/views', { start_date: '2014-02-14', end_date: '2024-02-13' }).expect(200);
    });

    it.each([
      ['/api/v1/stats/overview', { period: '3d' }, 'period'],
      ['/api/v1/stats/overview', { from: '2024-02-10' }, 'to'],
      ['/api/v1/stats/overview', { period: '7d', from: '2024-02-10', to: '2024-02-11' }, 'period'],
      ['/api/v1/stats/overview', { classification: 'ROBOT' }, 'classification'],
      ['/api/v1/stats/overview', { filters: '[["is","country"]]' }, 'filters[0]'],
      ['/api/v1/stats/timeseries', { interval: 'minute' }, 'interval'],
      ['/api/v1/stats/timeseries', { metrics: 'visitors,revenue' }, 'metrics'],
      ['/api/v1/stats/breakdown', { dimension: 'visitorKey' }, 'dimension'],
      ['/api/v1/stats/breakdown', {}, 'dimension'],
      ['/api/v1/stats/breakdown', { dimension: 'country', limit: 1001 }, 'limit'],
      ['/api/v1/stats/breakdown', { dimension: 'country', page: 0 }, 'page'],
    ])('%s 400 names the parameter (%j)', async (path, query, parameter) => {
      const response = await get(path, query).expect(400);
      expect(response.body.message).toContain(parameter);
    });
  });

  describe('after the rollup job has run', () => {
    it('every endpoint answers exactly as it did from raw hits', async () => {
      const dataRange = { start_date: '2024-02-08', end_date: '2024-02-15' };
      const requests: Array<[string, Record<string, string>]> = [
        ['/api/v1/data/users', dataRange],
        ['/api/v1/data/users', { ...dataRange, interval: 'week', classification: 'USER' }],
        ['/api/v1/data/views', { ...dataRange, interval: 'month' }],
        ['/api/v1/data/countries', dataRange],
        ['/api/v1/data/cities', { ...dataRange, classification: 'BOT' }],
        ['/api/v1/data/urls', dataRange],
        ['/api/v1/data/hostnames', dataRange],
        ['/api/v1/stats/users', {}],
        ['/api/v1/stats/overview', range],
        ['/api/v1/stats/timeseries', { ...range, metrics: 'visitors,pageviews,events,botShare,visits' }],
        ['/api/v1/stats/breakdown', { ...range, dimension: 'country' }],
        ['/api/v1/stats/breakdown', { ...range, dimension: 'page', filters: '[["contains","page",["a"]]]' }],
      ];
      const before = await Promise.all(requests.map(([path, query]) => get(path, query).expect(200)));
      // Hits were received at GOLDEN_NOW; two minutes later they have settled and the job rolls them up.
      clock.advance(2 * 60_000);
      const run = await app.app.get(RollupJob).runOnce();
      // Days with hits, local: Feb 8, 10, 11, 12, 13, 15
      expect(run).toEqual({ ran: true, siteDays: expect.any(Number) });
      // Every rollup is in use: visitor rows, their narrow sets, the visit hours and the visitor counts.
      for (const collection of [
        'stats_visitor_days',
        'stats_visitor_sets',
        'stats_visit_hours',
        'stats_visitor_counts',
      ]) {
        expect(await app.database.db.collection(collection).countDocuments({ day: '2024-02-10' })).toBeGreaterThan(0);
      }
      const after = await Promise.all(requests.map(([path, query]) => get(path, query).expect(200)));
      // Only the clock in user stats' meta moved on (two minutes); every number must be identical.
      const withoutNow = (body: { meta?: { now?: string } }) => ({ ...body, meta: { ...body.meta, now: undefined } });
      after.forEach((response, index) => expect(withoutNow(response.body)).toEqual(withoutNow(before[index].body)));
    });

    it('after a purge, reads stop using the stale rollup and the job rebuilds it', async () => {
      // Purge before Feb 11 local (2024-02-11T05:00Z): hits #1–#6 (incl. #6 at 04:50Z) and #16 go.
      // Views left, Feb 8–15: Feb 11 #7 = 1; Feb 12 #8, #9, #11, #12 = 4; Feb 13 #15 = 1; Feb 15 #13, #14 = 2 → 8
      const expected = {
        total: 8,
        series: [
          { date: '2024-02-08', value: 0 },
          { date: '2024-02-09', value: 0 },
          { date: '2024-02-10', value: 0 },
          { date: '2024-02-11', value: 1 },
          { date: '2024-02-12', value: 4 },
          { date: '2024-02-13', value: 1 },
          { date: '2024-02-14', value: 0 },
          { date: '2024-02-15', value: 2 },
        ],
      };
      await request(app.url)
        .delete(`/api/v1/sites/${site.id}/data`)
        .auth(adminToken, { type: 'bearer' })
        .query({ before: '2024-02-11' })
        .expect(200);
      const dataRange = { start_date: '2024-02-08', end_date: '2024-02-15' };
      expect((await get('/api/v1/data/views', dataRange).expect(200)).body).toEqual(expected);
      clock.advance(60_000);
      await app.app.get(RollupJob).runOnce();
      const state = await app.database.db
        .collection<{ _id: string; rebuild?: boolean }>('stats_rollup_state')
        .findOne({ _id: `site:${site.id}` });
      expect(state?.rebuild).toBeUndefined();
      const siteRows = { siteId: new ObjectId(site.id), day: '2024-02-10' };
      for (const collection of [
        'stats_visitor_days',
        'stats_visitor_sets',
        'stats_visit_hours',
        'stats_visitor_counts',
      ]) {
        expect(await app.database.db.collection(collection).countDocuments(siteRows)).toBe(0);
      }
      expect((await get('/api/v1/data/views', dataRange).expect(200)).body).toEqual(expected);
    });
  });
});
