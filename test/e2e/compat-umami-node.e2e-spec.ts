import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Umami } from '@umami/node';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { createIngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The official Umami Node client, unchanged, given Siteline's address as `hostUrl` and a Siteline
 * site id as `websiteId`, sending over real HTTP. The dataset is small enough to check by hand:
 * 3 page views on 2 pages, 2 `signup` events (plan pro, plan free), 1 `checkout` with revenue.
 */
describe('@umami/node against Siteline', () => {
  let app: TestApp;
  let admin: string;

  beforeAll(async () => {
    app = await startTestApp({ env: { ...bootstrapAdminEnv } });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
  });

  afterAll(async () => {
    await app.close();
  });

  it('records exactly the page views, events, props and revenue it sends', async () => {
    const site = await createIngestSite(app);
    const umami = new Umami({
      websiteId: site.siteId,
      hostUrl: app.url,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
    });
    const responses = [
      await umami.track({ hostname: site.domain, url: '/', referrer: 'https://news.example/a' }),
      await umami.track({ hostname: site.domain, url: '/pricing?utm_source=newsletter' }),
      await umami.track({ hostname: site.domain, url: '/' }),
      await umami.track('signup', { plan: 'pro' }),
      await umami.track('signup', { plan: 'free' }),
      await umami.track('checkout', { revenue: 49.5, currency: 'EUR', items: 2 }),
      await umami.identify({ plan: 'pro' }),
    ];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
    expect(await responses[0].json()).toEqual({ accepted: 1, duplicates: 0 });

    const hits = await app.database.db
      .collection('hits')
      .find({ siteId: new ObjectId(site.siteId) })
      .sort({ _id: 1 })
      .toArray();
    expect(
      hits.map(({ name, path, props, revenueAmount, revenueCurrency }) => ({
        name,
        path,
        props,
        revenueAmount,
        revenueCurrency,
      })),
    ).toEqual([
      { name: 'pageview', path: '/', props: undefined, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'pageview', path: '/pricing', props: undefined, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'pageview', path: '/', props: undefined, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'signup', path: '/', props: { plan: 'pro' }, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'signup', path: '/', props: { plan: 'free' }, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'checkout', path: '/', props: { items: 2 }, revenueAmount: 49.5, revenueCurrency: 'EUR' },
    ]);
    expect(hits.every((hit) => hit.classification === 'USER')).toBe(true);

    const today = new Date().toISOString().slice(0, 10);
    const overview = await request(app.url)
      .get('/api/v1/stats/overview')
      .query({ siteId: site.siteId, from: today, to: today })
      .auth(admin, { type: 'bearer' })
      .expect(200);
    expect(overview.body.results.pageviews.value).toBe(3);
    expect(overview.body.results.visitors.value).toBe(1);
  });
});
