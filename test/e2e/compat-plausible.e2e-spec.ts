import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId, type Db } from 'mongodb';
import request from 'supertest';
import { createIngestSite, FIREFOX_UA, GOOGLEBOT_SMARTPHONE_UA, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Plausible's Events API (`POST /api/event`) over real HTTP. */
describe('compat: POST /api/event (Plausible Events API)', () => {
  let app: TestApp;
  let db: Db;

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_IP_RATE_LIMIT: '1000' } });
    db = app.database.db;
  });

  afterAll(async () => {
    await app.close();
  });

  function post(body: unknown, headers: Record<string, string> = {}) {
    const call = request(app.url).post('/api/event').set('User-Agent', FIREFOX_UA);
    for (const [name, value] of Object.entries(headers)) void call.set(name, value);
    return typeof body === 'string'
      ? call.set('Content-Type', headers['Content-Type'] ?? 'text/plain').send(body)
      : call.send(body as object);
  }

  function stored(collection: 'hits' | 'engagements', site: IngestSite) {
    return db
      .collection(collection)
      .find({ siteId: new ObjectId(site.siteId) })
      .sort({ _id: 1 })
      .toArray();
  }

  it('records a page view sent as text/plain with short keys, and answers 202 "ok"', async () => {
    const site = await createIngestSite(app);
    const response = await post(
      JSON.stringify({
        n: 'pageview',
        u: `https://${site.domain}/pricing?utm_source=hn`,
        d: site.domain,
        r: 'https://news.example/x',
      }),
    ).expect(202);
    expect(response.text).toBe('ok');
    expect(response.headers['x-plausible-dropped']).toBeUndefined();
    expect(response.headers['access-control-allow-origin']).toBe('*');
    const [hit, ...others] = await stored('hits', site);
    expect(others).toHaveLength(0);
    expect(hit).toMatchObject({
      name: 'pageview',
      host: site.domain,
      path: '/pricing',
      utmSource: 'hn',
      referrerHost: 'news.example',
      classification: 'USER',
      browser: 'Firefox',
    });
  });

  it('records an event sent as JSON with long keys, props (object or JSON string, legacy meta) and revenue', async () => {
    const site = await createIngestSite(app);
    const url = `https://${site.domain}/checkout`;
    await post({
      name: 'Signup',
      url,
      domain: site.domain,
      props: { plan: 'pro', seats: 3, nested: { a: 1 }, blank: ' ' },
    }).expect(202);
    await post({ n: 'Signup', u: url, d: site.domain, p: JSON.stringify({ plan: 'free' }) }).expect(202);
    await post({ n: 'Signup', u: url, d: site.domain, m: JSON.stringify({ plan: 'team' }) }).expect(202);
    await post({ n: 'Purchase', u: url, d: site.domain, $: { currency: 'EUR', amount: '19.90' }, i: false }).expect(
      202,
    );
    await post({
      n: 'Purchase',
      u: url,
      d: site.domain,
      revenue: JSON.stringify({ currency: 'usd', amount: 5 }),
    }).expect(202);
    const hits = await stored('hits', site);
    expect(
      hits.map(({ name, props, revenueAmount, revenueCurrency }) => ({ name, props, revenueAmount, revenueCurrency })),
    ).toEqual([
      { name: 'Signup', props: { plan: 'pro', seats: 3 }, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'Signup', props: { plan: 'free' }, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'Signup', props: { plan: 'team' }, revenueAmount: undefined, revenueCurrency: undefined },
      { name: 'Purchase', props: undefined, revenueAmount: 19.9, revenueCurrency: 'EUR' },
      { name: 'Purchase', props: undefined, revenueAmount: 5, revenueCurrency: 'USD' },
    ]);
  });

  it('records the event once for each site of a comma-separated domain list, and flags the unknown one as dropped', async () => {
    const first = await createIngestSite(app);
    const second = await createIngestSite(app);
    const response = await post({
      n: 'pageview',
      u: `https://${first.domain}/`,
      d: `${first.domain}, www.${second.domain},unknown-${Date.now()}.example`,
    }).expect(202);
    expect(response.text).toBe('ok');
    expect(response.headers['x-plausible-dropped']).toBe('1');
    expect(await stored('hits', first)).toHaveLength(1);
    expect(await stored('hits', second)).toHaveLength(1);
  });

  it('takes the site from the URL host when no domain is given', async () => {
    const site = await createIngestSite(app);
    await post({ n: 'pageview', u: `https://www.${site.domain}/a` }).expect(202, 'ok');
    expect((await stored('hits', site)).map((hit) => hit.path)).toEqual(['/a']);
  });

  it('keeps the fragment with h: 1 (hash-based routing)', async () => {
    const site = await createIngestSite(app);
    await post({ n: 'pageview', u: `https://${site.domain}/app#/settings`, d: site.domain, h: 1 }).expect(202);
    await post({ n: 'pageview', u: `https://${site.domain}/app#/settings`, d: site.domain }).expect(202);
    expect((await stored('hits', site)).map((hit) => hit.path)).toEqual(['/app#/settings', '/app']);
  });

  it('stores an engagement event (e, sd) as an engagement record, not a hit; sd above 100 is 100, a missing e is 0', async () => {
    const site = await createIngestSite(app);
    const page = `https://${site.domain}/post`;
    await post({ n: 'engagement', u: page, d: site.domain, e: 12345, sd: 80, p: { author: 'ann' } }).expect(202, 'ok');
    await post({ n: 'engagement', u: page, d: site.domain, sd: '140' }).expect(202, 'ok');
    expect(await stored('hits', site)).toHaveLength(0);
    const records = await stored('engagements', site);
    expect(
      records.map(({ path, engagementMs, scrollDepth, props }) => ({ path, engagementMs, scrollDepth, props })),
    ).toEqual([
      { path: '/post', engagementMs: 12345, scrollDepth: 80, props: { author: 'ann' } },
      { path: '/post', engagementMs: 0, scrollDepth: 100, props: undefined },
    ]);
  });

  it('classifies a crawler as BOT and stores it, as /api/v1/hits does', async () => {
    const site = await createIngestSite(app);
    await request(app.url)
      .post('/api/event')
      .set('User-Agent', GOOGLEBOT_SMARTPHONE_UA)
      .send({ n: 'pageview', u: `https://${site.domain}/`, d: site.domain })
      .expect(202, 'ok');
    expect((await stored('hits', site)).map((hit) => [hit.classification, hit.botReason])).toEqual([['BOT', 'isbot']]);
  });

  it.each([
    ['no User-Agent', undefined, { n: 'pageview', u: 'https://a.example/' }, { user_agent: ['is required'] }],
    ['a body that is not JSON', FIREFOX_UA, 'not json', { request: ['Unable to parse request body as json'] }],
    ['no url', FIREFOX_UA, { n: 'pageview', d: 'a.example' }, { url: ['is required'] }],
    ['no name', FIREFOX_UA, { u: 'https://a.example/', d: 'a.example' }, { name: ["can't be blank"] }],
    ['a blank domain', FIREFOX_UA, { n: 'pageview', u: 'https://a.example/', d: ' ' }, { domain: ["can't be blank"] }],
    [
      'an engagement with neither e nor sd',
      FIREFOX_UA,
      { n: 'engagement', u: 'https://a.example/', d: 'a.example' },
      { event_name: ["engagement event requires a valid integer value for at least one of 'sd' or 'e' fields"] },
    ],
    [
      'an engagement without sd',
      FIREFOX_UA,
      { n: 'engagement', u: 'https://a.example/', d: 'a.example', e: 5 },
      { sd: ['is required'] },
    ],
  ])('answers 400 with Plausible errors for %s', async (_, userAgent, body, errors) => {
    const call = request(app.url).post('/api/event');
    if (userAgent) void call.set('User-Agent', userAgent);
    const response = await (
      typeof body === 'string' ? call.set('Content-Type', 'text/plain').send(body) : call.send(body)
    ).expect(400);
    // Plausible's `errors` map, beside the house error shape that names the same field.
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringContaining(Object.keys(errors)[0]),
      errors,
    });
  });

  it('answers 400 with the native rule, under Plausible field names, when Siteline refuses the event', async () => {
    const site = await createIngestSite(app);
    const response = await post({
      n: 'pageview',
      u: `https://${site.domain}/`,
      d: site.domain,
      $: { currency: 'EUR', amount: 1 },
    }).expect(400);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'revenue is only accepted on custom events, not on "pageview"',
      errors: { revenue: ['revenue is only accepted on custom events, not on "pageview"'] },
    });
    expect(await stored('hits', site)).toHaveLength(0);
  });

  it('applies the site origin rules: an allowed Origin records, another is dropped (202 + x-plausible-dropped), none (a server) records', async () => {
    const site = await createIngestSite(app, { allowedOrigins: ['https://shop.example'] });
    const event = { n: 'pageview', u: `https://${site.domain}/`, d: site.domain };
    await post(event, { Origin: 'https://shop.example' }).expect(202, 'ok');
    await post(event, { Origin: `https://www.${site.domain}` }).expect(202, 'ok');
    const refused = await post(event, { Origin: 'https://elsewhere.example' }).expect(202, 'ok');
    expect(refused.headers['x-plausible-dropped']).toBe('1');
    await post(event).expect(202, 'ok');
    expect(await stored('hits', site)).toHaveLength(3);
  });

  it('drops (202 + x-plausible-dropped) an event of a site that honours Do Not Track, when the browser sends DNT: 1', async () => {
    const site = await createIngestSite(app, { respectDoNotTrack: true });
    const response = await post({ n: 'pageview', u: `https://${site.domain}/`, d: site.domain }, { DNT: '1' }).expect(
      202,
      'ok',
    );
    expect(response.headers['x-plausible-dropped']).toBe('1');
    expect(await stored('hits', site)).toHaveLength(0);
  });

  it('answers the CORS preflight of a JSON send for any origin', async () => {
    const response = await request(app.url)
      .options('/api/event')
      .set('Origin', 'https://anywhere.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type')
      .expect(204);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-headers']).toMatch(/content-type/i);
  });
});

describe('compat: POST /api/event per-IP limit', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_IP_RATE_LIMIT: '1' } });
  });

  afterAll(async () => {
    await app.close();
  });

  it('drops the events over the per-IP limit (202 + x-plausible-dropped), as Plausible answers its throttle', async () => {
    const site = await createIngestSite(app);
    const event = { n: 'pageview', u: `https://${site.domain}/`, d: site.domain };
    const answers = [];
    for (let sent = 0; sent < 4; sent++) {
      const response = await request(app.url)
        .post('/api/event')
        .set('User-Agent', FIREFOX_UA)
        .send(event)
        .expect(202, 'ok');
      answers.push(response.headers['x-plausible-dropped'] ?? '0');
    }
    // A burst of twice the rate (2) goes through, the rest is dropped.
    expect(answers).toEqual(['0', '0', '1', '1']);
    expect(await app.database.db.collection('hits').countDocuments({ siteId: new ObjectId(site.siteId) })).toBe(2);
  });
});

describe('compat: POST /api/event behind a trusted proxy', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_IP_RATE_LIMIT: '1', TRUST_PROXY: 'true' } });
  });

  afterAll(async () => {
    await app.close();
  });

  it('takes the visitor address from X-Forwarded-For: per-IP limit and visitor hash follow it', async () => {
    const site = await createIngestSite(app);
    const event = { n: 'pageview', u: `https://${site.domain}/`, d: site.domain };
    const from = (address: string) =>
      request(app.url)
        .post('/api/event')
        .set('User-Agent', FIREFOX_UA)
        .set('X-Forwarded-For', address)
        .send(event)
        .expect(202, 'ok');
    const dropped = async (address: string) => (await from(address)).headers['x-plausible-dropped'] ?? '0';
    // Each address has its own burst of 2.
    expect([await dropped('198.51.100.1'), await dropped('198.51.100.1'), await dropped('198.51.100.1')]).toEqual([
      '0',
      '0',
      '1',
    ]);
    expect(await dropped('198.51.100.2')).toBe('0');
    const visitors = await app.database.db
      .collection('hits')
      .distinct('visitorKey', { siteId: new ObjectId(site.siteId) });
    expect(visitors).toHaveLength(2);
  });
});
