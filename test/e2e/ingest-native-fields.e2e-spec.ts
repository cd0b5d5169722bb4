import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId, type Db } from 'mongodb';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { MAX_ENGAGEMENT_MS } from '../../src/ingestion/dto/hit.dto.js';
import { DataPurgeService } from '../../src/retention/data-purge.service.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createIngestSite, FIREFOX_UA, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = new Date('2024-06-15T12:00:00Z');

/** Revenue, hash-routed paths and engagement records on `POST /api/v1/hits`. */
describe('ingest: revenue, hashMode and engagement on POST /api/v1/hits', () => {
  let app: TestApp;
  let db: Db;
  let admin: string;

  beforeAll(async () => {
    app = await startTestApp({
      env: { ...bootstrapAdminEnv, INGEST_KEY_RATE_LIMIT: '0' },
      override: (builder) => builder.overrideProvider(Clock).useValue(new FixedClock(NOW)),
    });
    db = app.database.db;
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
  });

  afterAll(async () => {
    await app.close();
  });

  function send(site: IngestSite, body: unknown) {
    return request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(body as object);
  }

  function stored(collection: 'hits' | 'engagements' | 'visits', site: IngestSite) {
    return db
      .collection(collection)
      .find({ siteId: new ObjectId(site.siteId) })
      .sort({ ts: 1, _id: 1 })
      .toArray();
  }

  describe('revenue', () => {
    it('is stored on a custom event as revenueAmount and an upper-cased revenueCurrency; other hits store neither', async () => {
      const site = await createIngestSite(app);
      await send(site, {
        hits: [
          keyHit({ url: '/', timestamp: '2024-06-15T10:00:00Z' }),
          keyHit({ name: 'purchase', revenue: { currency: 'EUR', amount: 12.5 }, timestamp: '2024-06-15T10:01:00Z' }),
          keyHit({ name: 'purchase', revenue: { currency: 'usd', amount: '7.25' }, timestamp: '2024-06-15T10:02:00Z' }),
          keyHit({ name: 'signup', timestamp: '2024-06-15T10:03:00Z' }),
        ],
      }).expect(202, { accepted: 4, duplicates: 0, rejected: [] });
      const hits = await stored('hits', site);
      expect(
        hits.map(({ name, revenueAmount, revenueCurrency }) => ({ name, revenueAmount, revenueCurrency })),
      ).toEqual([
        { name: 'pageview', revenueAmount: undefined, revenueCurrency: undefined },
        { name: 'purchase', revenueAmount: 12.5, revenueCurrency: 'EUR' },
        { name: 'purchase', revenueAmount: 7.25, revenueCurrency: 'USD' },
        { name: 'signup', revenueAmount: undefined, revenueCurrency: undefined },
      ]);
    });

    it.each([
      [
        { url: '/', revenue: { currency: 'EUR', amount: 1 } },
        'revenue: revenue is only accepted on custom events, not on "pageview"',
      ],
      [
        { url: '/', name: 'pageview', revenue: { currency: 'EUR', amount: 1 } },
        'revenue: revenue is only accepted on custom events, not on "pageview"',
      ],
      [
        { url: '/', name: 'engagement', engagementMs: 1, scrollDepth: 1, revenue: { currency: 'EUR', amount: 1 } },
        'revenue: revenue is only accepted on custom events, not on "engagement"',
      ],
      [
        { url: '/', name: 'buy', revenue: { currency: 'EURO', amount: 1 } },
        'revenue: currency must be a 3-letter ISO 4217 code such as EUR',
      ],
      [
        { url: '/', name: 'buy', revenue: { currency: 'EUR' } },
        'revenue: amount must be a finite number or a numeric string',
      ],
      [
        { url: '/', name: 'buy', revenue: { currency: 'EUR', amount: 'lots' } },
        'revenue: amount must be a finite number',
      ],
      [
        { url: '/', name: 'buy', revenue: { currency: 'EUR', amount: 1, tax: 2 } },
        'revenue: property tax should not exist',
      ],
      [{ url: '/', name: 'buy', revenue: 12 }, 'revenue: must be an object { currency, amount }'],
    ])('refuses %j with a 400 naming the rule', async (hit, message) => {
      const site = await createIngestSite(app);
      const response = await send(site, keyHit(hit)).expect(400);
      expect(response.body.message).toContain(message);
      expect(await stored('hits', site)).toHaveLength(0);
    });
  });

  describe('hashMode', () => {
    it('keeps the fragment in the path only when hashMode is true', async () => {
      const site = await createIngestSite(app);
      await send(site, {
        hits: [
          keyHit({ url: 'https://app.example/app#/settings', hashMode: true, timestamp: '2024-06-15T10:00:00Z' }),
          keyHit({ url: '/app/#/users/7?tab=2', hashMode: true, timestamp: '2024-06-15T10:01:00Z' }),
          keyHit({ url: '/app#/settings', timestamp: '2024-06-15T10:02:00Z' }),
          keyHit({ url: '/app#/settings', hashMode: false, timestamp: '2024-06-15T10:03:00Z' }),
          keyHit({ url: '/app#', hashMode: true, timestamp: '2024-06-15T10:04:00Z' }),
        ],
      }).expect(202);
      expect((await stored('hits', site)).map((hit) => hit.path)).toEqual([
        '/app#/settings',
        '/app#/users/7?tab=2',
        '/app',
        '/app',
        '/app',
      ]);
    });

    it('refuses a hashMode that is not a boolean', async () => {
      const site = await createIngestSite(app);
      const response = await send(site, keyHit({ hashMode: 'yes' })).expect(400);
      expect(response.body.message).toContain('hashMode must be a boolean value');
    });
  });

  describe('engagement', () => {
    it('is stored in engagements with the enrichment of a hit, and changes no hit, visit or stats figure', async () => {
      const site = await createIngestSite(app);
      const page = 'https://shop.example/pricing?utm_source=newsletter&utm_campaign=june';
      await send(site, {
        hits: [
          keyHit({ url: page, referrer: 'https://news.example/a', timestamp: '2024-06-15T10:00:00Z' }),
          keyHit({ url: '/about', timestamp: '2024-06-15T10:05:00Z' }),
        ],
      }).expect(202);
      await app.app.get(SessionsService).flush(site.siteId);
      const overview = () =>
        request(app.url)
          .get('/api/v1/stats/overview')
          .query({ siteId: site.siteId, from: '2024-06-15', to: '2024-06-15' })
          .auth(admin, { type: 'bearer' })
          .expect(200)
          .then((response) => response.body.results as unknown);
      const hitsBefore = await stored('hits', site);
      const visitsBefore = await stored('visits', site);
      const overviewBefore = await overview();

      const response = await send(
        site,
        keyHit({
          url: page,
          referrer: 'https://news.example/a',
          name: 'engagement',
          engagementMs: 42_000,
          scrollDepth: 75,
          props: { plan: 'pro' },
          timestamp: '2024-06-15T10:04:00Z',
        }),
      ).expect(202);
      expect(response.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
      await app.app.get(SessionsService).flush(site.siteId);

      const [engagement, ...others] = await stored('engagements', site);
      expect(others).toHaveLength(0);
      expect(engagement).toMatchObject({
        ts: new Date('2024-06-15T10:04:00Z'),
        receivedAt: NOW,
        engagementMs: 42_000,
        scrollDepth: 75,
        host: 'shop.example',
        path: '/pricing',
        referrer: 'https://news.example/a',
        referrerHost: 'news.example',
        source: 'newsletter',
        utmSource: 'newsletter',
        utmCampaign: 'june',
        classification: 'USER',
        browser: 'Firefox',
        os: 'Windows',
        device: 'desktop',
        props: { plan: 'pro' },
        visitorKey: hitsBefore[0].visitorKey,
      });
      expect(engagement).not.toHaveProperty('name');
      expect(engagement).not.toHaveProperty('visitId');
      // Fields without a value are left out, as in hits (docs/storage.md).
      for (const field of ['botReason', 'countryCode', 'utmMedium', 'utmTerm', 'utmContent']) {
        expect(engagement).not.toHaveProperty(field);
      }
      expect(Object.values(engagement).filter((value) => value === null)).toEqual([]);
      expect(JSON.stringify(engagement)).not.toContain('203.0.113.10');

      expect(await stored('hits', site)).toEqual(hitsBefore);
      expect(await stored('visits', site)).toEqual(visitsBefore);
      expect(await overview()).toEqual(overviewBefore);
    });

    it('goes with the page views of its request: one commit, hits and engagements each in their collection', async () => {
      const site = await createIngestSite(app);
      const response = await send(site, {
        hits: [
          keyHit({ url: '/a' }),
          keyHit({ url: '/a', name: 'engagement', engagementMs: 1000, scrollDepth: 10 }),
          keyHit({ url: '/b', name: 'engagement', engagementMs: 0, scrollDepth: 0 }),
          keyHit({ url: '/b', name: 'engagement', engagementMs: 5, scrollDepth: 101 }),
        ],
      }).expect(202);
      expect(response.body).toEqual({
        accepted: 3,
        duplicates: 0,
        rejected: [{ index: 3, error: 'scrollDepth must not be greater than 100' }],
      });
      expect((await stored('hits', site)).map((hit) => hit.path)).toEqual(['/a']);
      expect((await stored('engagements', site)).map((record) => [record.path, record.engagementMs])).toEqual([
        ['/a', 1000],
        ['/b', 0],
      ]);
    });

    it(`stores an engagement time above ${MAX_ENGAGEMENT_MS} ms as ${MAX_ENGAGEMENT_MS}`, async () => {
      const site = await createIngestSite(app);
      await send(site, keyHit({ name: 'engagement', engagementMs: 9 * 60 * 60 * 1000, scrollDepth: 100 })).expect(202);
      expect((await stored('engagements', site)).map((record) => record.engagementMs)).toEqual([MAX_ENGAGEMENT_MS]);
    });

    it('counts a repeated eventId as a duplicate, as for hits', async () => {
      const site = await createIngestSite(app);
      const engagement = keyHit({ name: 'engagement', engagementMs: 10, scrollDepth: 20, eventId: 'leave-1' });
      await send(site, engagement).expect(202, { accepted: 1, duplicates: 0, rejected: [] });
      await send(site, engagement).expect(202, { accepted: 0, duplicates: 1, rejected: [] });
      expect(await stored('engagements', site)).toHaveLength(1);
    });

    it.each([
      [{ name: 'signup', engagementMs: 10 }, 'engagementMs: engagementMs is only accepted with name "engagement"'],
      [{ scrollDepth: 10 }, 'scrollDepth: scrollDepth is only accepted with name "engagement"'],
      [{ name: 'engagement', scrollDepth: 10 }, 'engagementMs: engagementMs is required with name "engagement"'],
      [{ name: 'engagement', engagementMs: 10 }, 'scrollDepth: scrollDepth is required with name "engagement"'],
      [{ name: 'engagement', engagementMs: -1, scrollDepth: 10 }, 'engagementMs must not be less than 0'],
      [{ name: 'engagement', engagementMs: 1.5, scrollDepth: 10 }, 'engagementMs must be an integer number'],
      [{ name: 'engagement', engagementMs: 10, scrollDepth: -1 }, 'scrollDepth must not be less than 0'],
      [{ name: 'engagement', engagementMs: 10, scrollDepth: '50' }, 'scrollDepth must be an integer number'],
    ])('refuses %j with a 400 naming the rule', async (fields, message) => {
      const site = await createIngestSite(app);
      const response = await send(site, keyHit(fields)).expect(400);
      expect(response.body.message).toContain(message);
      expect(await stored('engagements', site)).toHaveLength(0);
      expect(await stored('hits', site)).toHaveLength(0);
    });

    it('is deleted by a purge, by retention (even on a site with no hits left) and by erasure', async () => {
      const site = await createIngestSite(app);
      const engagement = (fields: Record<string, unknown>) =>
        keyHit({ name: 'engagement', engagementMs: 1000, scrollDepth: 50, ...fields });
      await send(site, {
        hits: [
          engagement({ timestamp: '2024-06-01T10:00:00Z' }),
          engagement({ timestamp: '2024-06-10T10:00:00Z' }),
          engagement({ timestamp: '2024-06-12T10:00:00Z', userId: 'alice' }),
          engagement({ timestamp: '2024-06-13T10:00:00Z' }),
        ],
      }).expect(202, { accepted: 4, duplicates: 0, rejected: [] });

      const purged = await request(app.url)
        .delete(`/api/v1/sites/${site.siteId}/data`)
        .query({ before: '2024-06-05' })
        .auth(admin, { type: 'bearer' })
        .expect(200);
      expect(purged.body.deleted).toEqual({ hits: 0, visits: 0, engagements: 1 });

      const erased = await request(app.url)
        .delete(`/api/v1/sites/${site.siteId}/users/alice`)
        .auth(admin, { type: 'bearer' })
        .expect(200);
      expect(erased.body.deleted).toEqual({ hits: 0, visits: 0, engagements: 1 });

      // Retention's pass over every site: this one has engagements and no hits at all.
      const retained = await app.app.get(DataPurgeService).purgeAllBefore(new Date('2024-06-11T00:00:00Z'));
      expect(retained.engagements).toBeGreaterThanOrEqual(1);
      expect((await stored('engagements', site)).map((record) => record.ts)).toEqual([
        new Date('2024-06-13T10:00:00Z'),
      ]);
    });
  });

  it('a browser send carries the new fields as a key send does', async () => {
    const site = await createIngestSite(app, { allowedOrigins: ['https://shop.example'] });
    await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://shop.example')
      .set('User-Agent', FIREFOX_UA)
      .set('Content-Type', 'text/plain')
      .send(
        JSON.stringify({
          hits: [
            { siteId: site.siteId, url: '/app#/cart', hashMode: true },
            {
              siteId: site.siteId,
              url: '/app#/cart',
              hashMode: true,
              name: 'buy',
              revenue: { currency: 'EUR', amount: 3 },
            },
            {
              siteId: site.siteId,
              url: '/app#/cart',
              hashMode: true,
              name: 'engagement',
              engagementMs: 5,
              scrollDepth: 9,
            },
          ],
        }),
      )
      .expect(202, { accepted: 3, duplicates: 0, rejected: [] });
    expect((await stored('hits', site)).map((hit) => [hit.path, hit.name, hit.revenueAmount])).toEqual([
      ['/app#/cart', 'pageview', undefined],
      ['/app#/cart', 'buy', 3],
    ]);
    expect((await stored('engagements', site)).map((record) => record.path)).toEqual(['/app#/cart']);
  });
});
