import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId, type Db } from 'mongodb';
import request from 'supertest';
import { createIngestSite, FIREFOX_UA, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Umami's collection API (`POST /api/send`, `POST /api/batch`) over real HTTP. */
describe('compat: POST /api/send and /api/batch (Umami)', () => {
  let app: TestApp;
  let db: Db;

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_IP_RATE_LIMIT: '1000' } });
    db = app.database.db;
  });

  afterAll(async () => {
    await app.close();
  });

  function send(body: unknown, headers: Record<string, string> = {}) {
    const call = request(app.url).post('/api/send').set('User-Agent', FIREFOX_UA);
    for (const [name, value] of Object.entries(headers)) void call.set(name, value);
    return call.send(body as object);
  }

  function hits(site: IngestSite) {
    return db
      .collection('hits')
      .find({ siteId: new ObjectId(site.siteId) })
      .sort({ _id: 1 })
      .toArray();
  }

  it('records a page view (no name) and an event with data, on the page `url` resolved against `hostname`', async () => {
    const site = await createIngestSite(app);
    const pageview = await send({
      type: 'event',
      payload: {
        website: site.siteId,
        hostname: site.domain,
        url: '/pricing?utm_source=hn&utm_medium=social',
        referrer: 'https://news.example/item',
        title: 'Pricing',
        language: 'en-US',
        screen: '1920x1080',
      },
    }).expect(200);
    expect(pageview.body).toEqual({ accepted: 1, duplicates: 0 });
    expect(pageview.body).not.toHaveProperty('cache');
    await send({
      type: 'event',
      payload: {
        website: site.siteId,
        hostname: site.domain,
        url: '/pricing',
        name: 'signup',
        data: { plan: 'pro', seats: 3, trial: true, meta: { source: 'ad' }, none: null },
      },
    }).expect(200, { accepted: 1, duplicates: 0 });
    expect(
      (await hits(site)).map(({ name, host, path, utmSource, utmMedium, referrerHost, props }) => ({
        name,
        host,
        path,
        utmSource,
        utmMedium,
        referrerHost,
        props,
      })),
    ).toEqual([
      {
        name: 'pageview',
        host: site.domain,
        path: '/pricing',
        utmSource: 'hn',
        utmMedium: 'social',
        referrerHost: 'news.example',
        props: undefined,
      },
      {
        name: 'signup',
        host: site.domain,
        path: '/pricing',
        utmSource: undefined,
        utmMedium: undefined,
        referrerHost: undefined,
        props: { plan: 'pro', seats: 3, trial: true, meta: '{"source":"ad"}' },
      },
    ]);
  });

  it('takes revenue from an event’s data (`revenue` and `currency`, Umami’s convention), and an event without url on /', async () => {
    const site = await createIngestSite(app);
    await send({
      type: 'event',
      payload: { website: site.siteId, name: 'checkout', data: { revenue: 19.99, currency: 'USD', cart: 2 } },
    }).expect(200);
    await send({ type: 'event', payload: { website: site.siteId, name: 'tip', data: { revenue: 3 } } }).expect(200);
    expect(
      (await hits(site)).map(({ name, path, props, revenueAmount, revenueCurrency }) => ({
        name,
        path,
        props,
        revenueAmount,
        revenueCurrency,
      })),
    ).toEqual([
      { name: 'checkout', path: '/', props: { cart: 2 }, revenueAmount: 19.99, revenueCurrency: 'USD' },
      { name: 'tip', path: '/', props: { revenue: 3 }, revenueAmount: undefined, revenueCurrency: undefined },
    ]);
  });

  it('keeps the URL fragment in the path, as Umami does', async () => {
    const site = await createIngestSite(app);
    await send({ type: 'event', payload: { website: site.siteId, hostname: site.domain, url: '/app#/inbox' } }).expect(
      200,
    );
    expect((await hits(site)).map((hit) => hit.path)).toEqual(['/app#/inbox']);
  });

  it('stores the distinct id as a keyed userKey, never in clear', async () => {
    const site = await createIngestSite(app);
    await send({ type: 'event', payload: { website: site.siteId, url: '/', id: 'customer-42' } }).expect(200);
    const [hit] = await hits(site);
    expect(typeof hit.userKey).toBe('string');
    expect(JSON.stringify(hit)).not.toContain('customer-42');
  });

  it('acknowledges identify without storing anything', async () => {
    const site = await createIngestSite(app);
    await send({ type: 'identify', payload: { website: site.siteId, data: { plan: 'pro' } } }).expect(200, {
      accepted: 0,
      duplicates: 0,
    });
    expect(await hits(site)).toHaveLength(0);
  });

  it.each([
    [
      'an unknown website',
      { type: 'event', payload: { website: new ObjectId().toHexString(), url: '/' } },
      'Website not found.',
    ],
    ['no website', { type: 'event', payload: { url: '/' } }, 'payload.website is required'],
    [
      'a url that is not a string',
      { type: 'event', payload: { website: 'x', url: 7 } },
      'payload.url must be a string',
    ],
    ['an unknown type', { type: 'click', payload: { website: 'x', url: '/' } }, 'type must be "event" or "identify"'],
    [
      'performance data',
      { type: 'performance', payload: { website: 'x', url: '/', lcp: 1 } },
      'type "performance" (web vitals) is not supported',
    ],
    ['a link', { type: 'event', payload: { link: 'x', url: '/' } }, 'payload.link and payload.pixel are not supported'],
    [
      'an ip without a key',
      { type: 'event', payload: { website: 'SITE', url: '/', ip: '203.0.113.9' } },
      'ip: ip is only accepted with a site key',
    ],
    [
      'too long a name',
      { type: 'event', payload: { website: 'SITE', url: '/', name: 'x'.repeat(65) } },
      'name must be shorter than or equal to 64 characters',
    ],
  ])('answers 400 in Umami’s error shape for %s', async (_, body, message) => {
    const site = await createIngestSite(app);
    const payload = (body as { payload: Record<string, unknown> }).payload;
    if (payload.website === 'SITE') payload.website = site.siteId;
    const response = await send(body).expect(400);
    expect(response.body.error).toMatchObject({ code: 'bad-request', status: 400 });
    expect(response.body.error.message).toContain(message);
    expect(response.body).toMatchObject({ statusCode: 400, message: response.body.error.message });
    expect(await hits(site)).toHaveLength(0);
  });

  it('applies the site origin rules: allowed Origin records, another is 403, none (a server) records', async () => {
    const site = await createIngestSite(app, { allowedOrigins: ['https://shop.example'] });
    const body = { type: 'event', payload: { website: site.siteId, url: '/' } };
    const allowed = await send(body, { Origin: 'https://shop.example' }).expect(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example');
    const refused = await send(body, { Origin: 'https://elsewhere.example' }).expect(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', status: 403 });
    await send(body).expect(200);
    expect(await hits(site)).toHaveLength(2);
  });

  it('answers the CORS preflight of Umami’s tracker (JSON and x-umami-cache)', async () => {
    const response = await request(app.url)
      .options('/api/send')
      .set('Origin', 'https://shop.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-umami-cache')
      .expect(204);
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers['access-control-allow-headers']).toMatch(/x-umami-cache/i);
  });

  it('/api/batch records each valid item across websites and answers Umami’s batch summary with the failures', async () => {
    const first = await createIngestSite(app);
    const second = await createIngestSite(app);
    const response = await request(app.url)
      .post('/api/batch')
      .set('User-Agent', FIREFOX_UA)
      .send([
        { type: 'event', payload: { website: first.siteId, url: '/a' } },
        { type: 'event', payload: { website: second.siteId, url: '/b', name: 'signup' } },
        { type: 'event', payload: { website: first.siteId, url: '/c', name: 'x'.repeat(65) } },
        { type: 'event', payload: { website: new ObjectId().toHexString(), url: '/d' } },
        { type: 'identify', payload: { website: first.siteId, data: { a: 1 } } },
        { type: 'event', payload: { website: first.siteId, url: '/e' } },
      ])
      .expect(200);
    expect(response.body).toEqual({
      size: 6,
      processed: 4,
      errors: 2,
      details: [
        {
          index: 2,
          response: {
            statusCode: 400,
            message: 'name must be shorter than or equal to 64 characters',
            error: { message: 'name must be shorter than or equal to 64 characters', code: 'bad-request', status: 400 },
          },
        },
        {
          index: 3,
          response: {
            statusCode: 400,
            message: 'Website not found.',
            error: { message: 'Website not found.', code: 'bad-request', status: 400 },
          },
        },
      ],
    });
    expect((await hits(first)).map((hit) => hit.path)).toEqual(['/a', '/e']);
    expect((await hits(second)).map((hit) => [hit.path, hit.name])).toEqual([['/b', 'signup']]);
  });

  it('/api/batch refuses what is not an array of 1 to 500 items', async () => {
    for (const body of [{ type: 'event' }, []]) {
      const response = await request(app.url).post('/api/batch').set('User-Agent', FIREFOX_UA).send(body).expect(400);
      expect(response.body.error.message).toBe('body must be an array of 1 to 500 { type, payload } items');
    }
  });
});
