import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId, type Db } from 'mongodb';
import request from 'supertest';
import { REVERSE_DNS_RESOLVER, ReverseDnsService } from '../../src/geo/reverse-dns.service.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import {
  createIngestSite,
  FIREFOX_UA,
  keyHit,
  GOOGLEBOT_SMARTPHONE_UA,
  type IngestSite,
} from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CHROME_LINUX_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

describe('ingest: site-analytics traffic form', () => {
  let app: TestApp;
  let db: Db;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp();
    db = app.database.db;
    site = await createIngestSite(app);
  });

  afterAll(async () => {
    await app.close();
  });

  it('stores the site-analytics example (Googlebot, 127.0.0.1, /) as BOT with reason isbot and a visit after flush', async () => {
    const response = await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', site.key)
      .query({ url: '/', ip_addr: '127.0.0.1', user_agent: GOOGLEBOT_SMARTPHONE_UA })
      .expect(202);
    expect(response.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await app.app.get(SessionsService).flush(site.siteId);
    const hits = await db
      .collection('hits')
      .find({ siteId: { $exists: true } })
      .toArray();
    expect(hits).toHaveLength(1);
    const [hit] = hits;
    expect(hit).toMatchObject({
      host: site.domain,
      path: '/',
      name: 'pageview',
      classification: 'BOT',
      botReason: 'isbot',
      device: 'mobile',
      os: 'Android',
    });
    // No location for 127.0.0.1: a hit stores no field it has no value for.
    for (const absent of ['countryCode', 'city', 'referrer', 'utmSource', 'revenueAmount']) {
      expect(hit).not.toHaveProperty(absent);
    }
    expect(hit).toHaveProperty('visitId');
    expect(hit.visitorKey).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof hit.visitId).toBe('string');
    expect(JSON.stringify(hit)).not.toContain('127.0.0.1');
    const visit = await db.collection('visits').findOne({ _id: hit.visitId });
    expect(visit).toMatchObject({ pageviews: 1, hits: 1, bounce: true, duration: 0, classification: 'BOT' });
  });

  it('stores the same site-analytics example sent as a JSON body instead of query parameters', async () => {
    const jsonSite = await createIngestSite(app);
    const response = await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', jsonSite.key)
      .send({ url: '/', ip_addr: '127.0.0.1', user_agent: GOOGLEBOT_SMARTPHONE_UA })
      .expect(202);
    expect(response.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const stored = await db
      .collection('hits')
      .find({ siteId: new ObjectId(jsonSite.siteId) })
      .toArray();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      host: jsonSite.domain,
      path: '/',
      classification: 'BOT',
      botReason: 'isbot',
      device: 'mobile',
      os: 'Android',
    });
    expect(stored[0]).not.toHaveProperty('countryCode');
    // The body's ip_addr, not the caller's address (also 127.0.0.1 here), is the visitor's.
    await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', jsonSite.key)
      .send({ url: '/uk', ip_addr: '81.2.69.142', user_agent: FIREFOX_UA })
      .expect(202, { accepted: 1, duplicates: 0, rejected: [] });
    expect(await db.collection('hits').findOne({ siteId: new ObjectId(jsonSite.siteId), path: '/uk' })).toMatchObject({
      countryCode: 'GB',
      city: 'St Albans',
      classification: 'USER',
    });
    expect(JSON.stringify(stored[0])).not.toContain('127.0.0.1');
  });
});

describe('ingest: /api/v1/hits and the batch forms', () => {
  let app: TestApp;
  let db: Db;
  let site: IngestSite;
  const resolved: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({
      env: { REVERSE_DNS: 'on', INGEST_KEY_RATE_LIMIT: '0', INGEST_IP_RATE_LIMIT: '0', MAX_BACKFILL_DAYS: '30' },
      override: (builder) =>
        builder.overrideProvider(REVERSE_DNS_RESOLVER).useValue(async (ip: string) => {
          resolved.push(ip);
          return ip === '66.249.66.1' ? ['crawl-66-249-66-1.googlebot.com'] : [];
        }),
    });
    db = app.database.db;
    site = await createIngestSite(app, { allowedOrigins: ['https://app.partner.test'] });
  });

  afterAll(async () => {
    await app.close();
  });

  const hits = () => db.collection('hits');

  it('accepts the site-analytics batch form with ip_address and timestamp', async () => {
    const timestamp = new Date(Date.now() - 3600_000).toISOString();
    const response = await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', `Bearer ${site.key}`)
      .send({
        traffic: [
          { url: '/a', ip_address: '8.8.8.8', user_agent: FIREFOX_UA, timestamp },
          { url: '/b', ip_address: '81.2.69.142', user_agent: FIREFOX_UA, timestamp },
          { url: '/c', ip_addr: '8.8.8.8' },
        ],
      })
      .expect(202);
    expect(response.body).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [{ index: 2, error: expect.stringMatching(/ip_addr/) }],
    });
    const stored = await hits()
      .find({ path: { $in: ['/a', '/b'] } })
      .sort({ path: 1 })
      .toArray();
    expect(stored.map((hit) => [hit.countryCode, hit.region, hit.city, hit.ts.toISOString()])).toEqual([
      // No region or city for this address: the hit stores neither field.
      ['US', undefined, undefined, timestamp],
      ['GB', 'ENG', 'St Albans', timestamp],
    ]);
    expect(stored[0]).toMatchObject({ classification: 'USER', browser: 'Firefox', os: 'Windows', device: 'desktop' });
  });

  it('stores a single hit with a key, enriches URL, referrer, props, userId hash and the network domain later', async () => {
    await request(app.url)
      .post('/api/v1/hits')
      .set('X-Api-Key', site.key)
      .send(
        keyHit({
          url: `https://${site.domain}/pricing/?utm_source=news&utm_campaign=spring&secret=1#x`,
          referrer: 'https://www.google.com/search?q=private',
          ip: '66.249.66.1',
          userId: 'user-42',
          name: 'signup',
          props: { plan: 'pro', seats: 3 },
          eventId: 'evt-single',
        }),
      )
      .expect(202, { accepted: 1, duplicates: 0, rejected: [] });
    await app.app.get(ReverseDnsService).idle();
    const hit = await hits().findOne({ eventId: 'evt-single' });
    expect(hit).toMatchObject({
      host: site.domain,
      path: '/pricing',
      utmSource: 'news',
      utmCampaign: 'spring',
      source: 'news',
      referrer: 'https://www.google.com/search',
      referrerHost: 'google.com',
      name: 'signup',
      props: { plan: 'pro', seats: 3 },
      networkDomain: 'googlebot.com',
      countryCode: 'US',
    });
    expect(hit!.userKey).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(hit)).not.toContain('user-42');
    // The fake resolver was asked about this IP exactly once, after the write.
    expect(resolved.filter((ip) => ip === '66.249.66.1')).toEqual(['66.249.66.1']);
  });

  it('looks an IP up once however many hits it sends, whether it has a reverse name or not', async () => {
    const dns = app.app.get(ReverseDnsService);
    const nameless = '198.51.100.23';
    for (let i = 0; i < 3; i++) {
      await request(app.url)
        .post('/api/v1/hits')
        .set('Authorization', site.key)
        .send(keyHit({ ip: nameless, eventId: `nameless-${i}` }))
        .expect(202);
      await dns.idle();
    }
    expect(resolved.filter((ip) => ip === nameless)).toHaveLength(1);
    const namelessHits = await hits()
      .find({ eventId: /^nameless-/ })
      .toArray();
    expect(namelessHits.map((hit) => hit.networkDomain)).toEqual([undefined, undefined, undefined]);

    // An IP whose name is cached gets it at enrichment: stored with the hit, no new lookup.
    for (let i = 0; i < 2; i++) {
      await request(app.url)
        .post('/api/v1/hits')
        .set('Authorization', site.key)
        .send(keyHit({ ip: '66.249.66.1', eventId: `named-${i}` }))
        .expect(202);
      expect(await hits().findOne({ eventId: `named-${i}` })).toMatchObject({ networkDomain: 'googlebot.com' });
    }
    await dns.idle();
    expect(resolved.filter((ip) => ip === '66.249.66.1')).toHaveLength(1);
  });

  it('reports duplicates by eventId within a batch and across requests, storing each once', async () => {
    const batch = { hits: [keyHit({ eventId: 'dup-1' }), keyHit({ eventId: 'dup-1' }), keyHit({ eventId: 'dup-2' })] };
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(batch)
      .expect(202, { accepted: 2, duplicates: 1, rejected: [] });
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(batch)
      .expect(202, { accepted: 0, duplicates: 3, rejected: [] });
    expect(await hits().countDocuments({ eventId: { $in: ['dup-1', 'dup-2'] } })).toBe(2);
  });

  it('the same eventId from many parallel requests is stored exactly once', async () => {
    const responses = await Promise.all(
      Array.from({ length: 40 }, () =>
        request(app.url)
          .post('/api/v1/hits')
          .set('Authorization', site.key)
          .send(keyHit({ eventId: 'race-1' })),
      ),
    );
    expect(responses.every((response) => response.status === 202)).toBe(true);
    expect(responses.filter((response) => response.body.accepted === 1)).toHaveLength(1);
    expect(responses.filter((response) => response.body.duplicates === 1)).toHaveLength(39);
    expect(await hits().countDocuments({ eventId: 'race-1' })).toBe(1);
  });

  it('reconciliation: every acknowledged hit of concurrent requests is stored once, nothing extra', async () => {
    const before = await hits().countDocuments({});
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, request_) =>
        request(app.url)
          .post('/api/v1/hits')
          .set('Authorization', site.key)
          .send({
            hits: Array.from({ length: 10 }, (_, item) =>
              keyHit({ eventId: `rec-${request_}-${item}`, url: `/r/${item}` }),
            ),
          }),
      ),
    );
    const acknowledged = responses
      .filter((response) => response.status === 202)
      .reduce((sum, response) => sum + response.body.accepted, 0);
    expect(acknowledged).toBe(300);
    const stored = await hits().find({ eventId: /^rec-/ }).project({ eventId: 1 }).toArray();
    expect(new Set(stored.map((hit) => hit.eventId)).size).toBe(300);
    expect(stored).toHaveLength(300);
    expect(await hits().countDocuments({})).toBe(before + 300);
  });

  it('browser sends: allowed origin → 202 with CORS echo; other origin → 403; ip from a browser → rejected', async () => {
    const allowed = await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://app.partner.test')
      .set('User-Agent', FIREFOX_UA)
      .send({ siteId: site.siteId, url: 'https://app.partner.test/dashboard' })
      .expect(202);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.partner.test');
    await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', `https://www.${site.domain}`)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ siteId: site.domain, url: '/from-tracker' }))
      .expect(202);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://evil.test')
      .send({ siteId: site.siteId, url: '/' })
      .expect(403);
    await request(app.url).post('/api/v1/hits').send({ siteId: site.siteId, url: '/' }).expect(403);
    const withIp = await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://app.partner.test')
      .send({ siteId: site.siteId, url: '/', ip: '1.2.3.4' })
      .expect(400);
    expect(withIp.body).toMatchObject({ accepted: 0, rejected: [{ index: 0, error: expect.stringMatching(/^ip/) }] });
    const preflight = await request(app.url).options('/api/v1/hits').set('Origin', 'https://anything.test').expect(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://anything.test');
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('answers 401 for unknown keys and sites, 403 for a read-only key', async () => {
    await request(app.url).post('/api/v1/hits').set('Authorization', 'sk_nope').send(keyHit()).expect(401);
    await request(app.url).post('/api/v1/traffic').query({ url: '/' }).expect(401);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://x.test')
      .send({ siteId: 'no-such.site', url: '/' })
      .expect(401);
    const reader = await createIngestSite(app, { scopes: ['read'] });
    await request(app.url).post('/api/v1/hits').set('Authorization', reader.key).send(keyHit()).expect(403);
  });

  it('rejects invalid hits naming the field; 400 when nothing is valid, 202 with detail otherwise', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [keyHit({ color: 'red' }), /color/],
      [keyHit({ url: 42 }), /^url/],
      [keyHit({ url: 'x'.repeat(2049) }), /^url/],
      [keyHit({ userAgent: 'u'.repeat(1025) }), /^userAgent/],
      [keyHit({ eventId: 'e'.repeat(129) }), /^eventId/],
      [keyHit({ name: 'n'.repeat(65) }), /^name/],
      [keyHit({ props: { nested: { a: 1 } } }), /^props/],
      [keyHit({ props: { $set: 1 } }), /^props/],
      [keyHit({ timestamp: new Date(Date.now() - 40 * 86400_000).toISOString() }), /^timestamp/],
      [keyHit({ timestamp: new Date(Date.now() + 10 * 60_000).toISOString() }), /^timestamp/],
      [keyHit({ ip: 'localhost' }), /^ip/],
    ];
    for (const [hit, pattern] of cases) {
      const response = await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send(hit).expect(400);
      expect(response.body).toMatchObject({
        statusCode: 400,
        accepted: 0,
        duplicates: 0,
        rejected: [{ index: 0, error: expect.stringMatching(pattern) }],
      });
    }
    const mixed = await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send({ hits: [keyHit({ url: '/ok' }), keyHit({ url: 7 })] })
      .expect(202);
    expect(mixed.body).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [{ index: 1, error: expect.stringMatching(/^url/) }],
    });
    await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send({ hits: [] }).expect(400);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send({ hits: Array.from({ length: 501 }, () => keyHit()) })
      .expect(400);
  });

  it('takes an optional hit field sent as null for one not sent, in single and batch form', async () => {
    // `null` is "no value" in a hit (as in `referrer: document.referrer || null`): no siteId (the
    // key's site), no props, no user (not the user "null"), no eventId, the default name.
    const nulls = { siteId: null, referrer: null, userId: null, eventId: null, name: null, props: null };
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(keyHit({ ...nulls, url: '/null-single' }))
      .expect(202, { accepted: 1, duplicates: 0, rejected: [] });
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send({ hits: [keyHit({ ...nulls, url: '/null-batch' }), keyHit({ url: '/null-control' })] })
      .expect(202, { accepted: 2, duplicates: 0, rejected: [] });
    const stored = await hits()
      .find({ path: { $in: ['/null-single', '/null-batch', '/null-control'] } })
      .sort({ path: 1 })
      .toArray();
    expect(stored.map((hit) => hit.path)).toEqual(['/null-batch', '/null-control', '/null-single']);
    for (const hit of stored) {
      expect(hit).toMatchObject({ siteId: new ObjectId(site.siteId), name: 'pageview' });
      for (const absent of ['props', 'userKey', 'eventId', 'referrer']) expect(hit).not.toHaveProperty(absent);
    }
    // Same IP and user agent, no user: one visitor, whether userId was null or left out.
    expect(new Set(stored.map((hit) => hit.visitorKey)).size).toBe(1);
    // Without a key, a null siteId names no site, as a missing one does; a null url is no url.
    await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://app.partner.test')
      .send({ siteId: null, url: '/' })
      .expect(401);
    const noUrl = await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(keyHit({ url: null }))
      .expect(400);
    expect(noUrl.body.rejected).toEqual([{ index: 0, error: expect.stringMatching(/^url/) }]);
  });

  it('takes up to 200 items in a /traffic batch and answers 400 naming the limit at 201', async () => {
    const limitSite = await createIngestSite(app);
    const items = (count: number, prefix: string) =>
      Array.from({ length: count }, (_, i) => ({
        url: `/${prefix}/${i}`,
        ip_address: '203.0.113.50',
        user_agent: FIREFOX_UA,
      }));
    const tooMany = await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', limitSite.key)
      .send({ traffic: items(201, 'over') })
      .expect(400);
    expect(tooMany.body).toMatchObject({ statusCode: 400, message: expect.stringMatching(/traffic.*\b200\b/) });
    const stored = () => hits().countDocuments({ siteId: new ObjectId(limitSite.siteId) });
    expect(await stored()).toBe(0);
    await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', limitSite.key)
      .send({ traffic: items(200, 'max') })
      .expect(202, { accepted: 200, duplicates: 0, rejected: [] });
    expect(await stored()).toBe(200);
  });

  it('answers 413 with the JSON error shape for a body over 1 MB', async () => {
    const response = await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send({ hits: [keyHit({ url: '/' + 'x'.repeat(1024 * 1024) })] })
      .expect(413);
    expect(response.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('private addresses have no location', async () => {
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(keyHit({ ip: '10.1.2.3', eventId: 'private-ip' }))
      .expect(202);
    const hit = await hits().findOne({ eventId: 'private-ip' });
    expect(hit).toMatchObject({ path: expect.any(String) });
    // Stored without the fields it has no value for (docs/storage.md).
    for (const absent of ['countryCode', 'region', 'city', 'networkDomain']) expect(hit).not.toHaveProperty(absent);
  });

  it('serves the tracker script and Prometheus metrics', async () => {
    const script = await request(app.url).get('/tracker.js').expect(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    // The script reads its site from the tag's data-site-id attribute.
    expect(script.text).toContain("attr('site-id')");
    const metrics = await request(app.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/siteline_hits_total\{result="accepted"\} \d+/);
    expect(metrics.text).toMatch(/siteline_hits_rejected_total\{reason="url"\} \d+/);
    expect(metrics.text).toContain('siteline_write_batch_size_bucket');
    expect(metrics.text).toContain('siteline_ingest_queue_depth');
  });

  it('counts bots by reason, duplicates and write latency in the Prometheus metrics', async () => {
    const scrape = async () => (await request(app.url).get('/metrics').expect(200)).text;
    const before = await scrape();
    const send = (hit: Record<string, unknown>) =>
      request(app.url).post('/api/v1/hits').set('Authorization', site.key).send(hit).expect(202);
    await send(keyHit({ userAgent: GOOGLEBOT_SMARTPHONE_UA }));
    // isbot lets this one through; the headless heuristic catches it.
    await send(keyHit({ userAgent: `${CHROME_LINUX_UA} puppeteer` }));
    await send(keyHit({ eventId: 'metrics-dup' }));
    await send(keyHit({ eventId: 'metrics-dup' })).expect({ accepted: 0, duplicates: 1, rejected: [] });
    await send(keyHit({ url: '/metrics-normal' }));
    const after = await scrape();
    const delta = (series: string) => metricValue(after, series) - metricValue(before, series);

    expect(delta('siteline_hits_bot_total{reason="isbot"}')).toBe(1);
    expect(delta('siteline_hits_bot_total{reason="headless"}')).toBe(1);
    expect(delta('siteline_hits_total{result="duplicate"}')).toBe(1);
    expect(delta('siteline_hits_total{result="accepted"}')).toBe(4);
    // Each of the four writes (the duplicate's too: the unique index answers it) was timed.
    expect(delta('siteline_write_latency_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(delta('siteline_write_latency_seconds_sum')).toBeGreaterThan(0);
    expect(metricValue(after, 'siteline_write_latency_seconds_bucket{le="+Inf"}')).toBe(
      metricValue(after, 'siteline_write_latency_seconds_count'),
    );
  });

  it('asked the resolver about each IP at most once over all the tests above', async () => {
    await app.app.get(ReverseDnsService).idle();
    expect(resolved).toEqual(expect.arrayContaining(['66.249.66.1', '8.8.8.8', '81.2.69.142', '203.0.113.10']));
    const repeated = resolved.filter((ip, index) => resolved.indexOf(ip) !== index);
    expect(repeated).toEqual([]);
  });
});

describe('ingest: rate limits and Do-Not-Track', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_KEY_RATE_LIMIT: '1', INGEST_IP_RATE_LIMIT: '100' } });
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 429 with Retry-After once a key exceeds its rate', async () => {
    const site = await createIngestSite(app);
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send(keyHit());
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers['retry-after'];
    }
    expect(statuses.slice(0, 2)).toEqual([202, 202]);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('drops browser hits sent with DNT: 1 when the site respects Do-Not-Track', async () => {
    const site = await createIngestSite(app, { respectDoNotTrack: true });
    await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', `https://${site.domain}`)
      .set('DNT', '1')
      .send({ siteId: site.siteId, url: '/' })
      .expect(202, { accepted: 0, duplicates: 0, rejected: [] });
    expect(await app.database.db.collection('hits').countDocuments({ siteId: new ObjectId(site.siteId) })).toBe(0);
  });
});

/** The value of one series (`name{labels}` as Prometheus prints it) in a scrape; 0 when absent. */
function metricValue(scrape: string, series: string): number {
  const line = scrape.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
