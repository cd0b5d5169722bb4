import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1';
/** Addresses the test GeoIP data places in GB, FR, DE, US, FR. */
const IPS = ['81.2.69.142', '195.154.0.1', '46.4.0.1', '8.8.8.8', '80.67.169.12'];
const NOW = new Date('2024-05-20T12:00:00Z');

/** The v2 metrics and their native names, as a reader of Plausible's docs and Siteline's would pair them. */
const METRIC_PAIRS: Array<[string, string]> = [
  ['visitors', 'visitors'],
  ['visits', 'visits'],
  ['pageviews', 'pageviews'],
  ['views_per_visit', 'viewsPerVisit'],
  ['bounce_rate', 'bounceRate'],
  ['visit_duration', 'visitDuration'],
  ['events', 'events'],
  ['percentage', 'percentage'],
  ['time_on_page', 'time_on_page'],
  ['scroll_depth', 'scroll_depth'],
];
/** [v2 dimension, native dimension or interval, what v2 shows for a missing value]. */
const DIMENSION_PAIRS: Array<{ v2: string; native?: string; interval?: string; missing?: string }> = [
  { v2: 'event:page', native: 'page' },
  { v2: 'event:name', native: 'event_name' },
  { v2: 'event:hostname', native: 'page_host' },
  { v2: 'event:props:plan', native: 'prop:plan', missing: '(none)' },
  { v2: 'visit:entry_page', native: 'entry_page' },
  { v2: 'visit:exit_page', native: 'exit_page' },
  { v2: 'visit:source', native: 'source', missing: 'Direct / None' },
  { v2: 'visit:utm_term', native: 'utm_term', missing: '(not set)' },
  { v2: 'visit:utm_campaign', native: 'utm_campaign', missing: '(not set)' },
  { v2: 'visit:country', native: 'country' },
  { v2: 'visit:device', native: 'device', missing: '(not set)' },
  { v2: 'time:day', interval: 'day' },
  { v2: 'time:week', interval: 'week' },
];
/** A v2 filter and the native filters it must mean. */
const FILTER_PAIRS: Array<{ v2: unknown; native: unknown[] }> = [
  { v2: ['is', 'event:page', ['/pricing', '/blog']], native: [['is', 'page', ['/pricing', '/blog']]] },
  { v2: ['is_not', 'visit:country', ['DE']], native: [['is_not', 'country', ['DE']]] },
  { v2: ['contains', 'event:page', ['blog']], native: [['contains', 'page', ['blog']]] },
  { v2: ['contains_not', 'event:page', ['pric']], native: [['not_contains', 'page', ['pric']]] },
  { v2: ['is', 'event:props:plan', ['pro']], native: [['is', 'prop:plan', ['pro']]] },
  { v2: ['is', 'visit:utm_source', ['news']], native: [['is', 'utm_source', ['news']]] },
  { v2: ['is', 'visit:entry_page', ['/']], native: [['is', 'entry_page', ['/']]] },
  { v2: ['not', ['is', 'event:name', ['pageview']]], native: [['is_not', 'event_name', ['pageview']]] },
  {
    v2: [
      'or',
      [
        ['is', 'visit:device', ['mobile']],
        ['is', 'visit:device', ['desktop']],
      ],
    ],
    native: [['is', 'device', ['mobile', 'desktop']]],
  },
  {
    v2: [
      'and',
      [
        ['is_not', 'event:page', ['/']],
        ['contains', 'visit:source', ['example']],
      ],
    ],
    native: [
      ['is_not', 'page', ['/']],
      ['contains', 'source', ['example']],
    ],
  },
];

/**
 * A random but fixed dataset: 5 addresses × two devices over May, pages, events with props,
 * engagement records, UTM tags, referrers.
 */
function dataset(): Array<Record<string, unknown>> {
  const hitArbitrary = fc.record({
    ip: fc.constantFrom(...IPS),
    mobile: fc.boolean(),
    minute: fc.integer({ min: 0, max: 19 * 24 * 60 }),
    path: fc.constantFrom('/', '/pricing', '/blog', '/blog/post'),
    name: fc.constantFrom('pageview', 'pageview', 'pageview', 'Signup', 'Download', 'engagement'),
    engagementMs: fc.integer({ min: 0, max: 600_000 }),
    scrollDepth: fc.integer({ min: 0, max: 100 }),
    plan: fc.constantFrom('pro', 'free', undefined),
    utm: fc.constantFrom('', '?utm_source=news&utm_campaign=may&utm_term=shoes', '?utm_source=ads&utm_term=boots'),
    referrer: fc.constantFrom(undefined, 'https://www.example.org/post', 'https://search.example/q'),
  });
  const hits = fc.sample(fc.array(hitArbitrary, { minLength: 120, maxLength: 120 }), { seed: 1717, numRuns: 1 })[0];
  return hits.map((hit) => ({
    url: `https://v2.example${hit.path}${hit.utm}`,
    ip: hit.ip,
    timestamp: new Date(Date.parse('2024-05-01T00:00:00Z') + hit.minute * 60_000).toISOString(),
    userAgent: hit.mobile ? IPHONE : FIREFOX,
    ...(hit.referrer ? { referrer: hit.referrer } : {}),
    ...(hit.name === 'pageview' ? {} : { name: hit.name, ...(hit.plan ? { props: { plan: hit.plan } } : {}) }),
    ...(hit.name === 'engagement' ? { engagementMs: hit.engagementMs, scrollDepth: hit.scrollDepth } : {}),
  }));
}

describe('POST /api/v2/query (Plausible Stats API v2)', () => {
  let app: TestApp;
  let site: CreatedSite;
  let adminToken: string;
  let readKey: string;
  let ingestKey: string;

  const v2 = (body: Record<string, unknown>, key = readKey) =>
    request(app.url).post('/api/v2/query').auth(key, { type: 'bearer' }).send(body);
  const native = (body: Record<string, unknown>) =>
    request(app.url).post('/api/v1/stats/query').auth(adminToken, { type: 'bearer' }).send(body);

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(new FixedClock(NOW)),
    });
    adminToken = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, adminToken, { domain: 'v2.example', timezone: 'Europe/Berlin' });
    ingestKey = (await createKey(app.url, adminToken, site.id, ['ingest'])).key;
    readKey = (await createKey(app.url, adminToken, site.id, ['read'])).key;
    await request(app.url)
      .post('/api/v1/hits')
      .auth(ingestKey, { type: 'bearer' })
      .send({ hits: dataset() })
      .expect(202);
    await app.app.get(SessionsService).flush();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('answers what POST /api/v1/stats/query answers, over metrics × dimensions × filters × date ranges', async () => {
    const caseArbitrary = fc.record({
      metrics: fc.subarray(METRIC_PAIRS, { minLength: 1 }),
      dimensions: fc.subarray(DIMENSION_PAIRS, { maxLength: 2 }),
      filters: fc.subarray(FILTER_PAIRS, { maxLength: 2 }),
      range: fc.constantFrom<[unknown, Record<string, string>]>(
        ['7d', { period: '7d' }],
        ['30d', { period: '30d' }],
        ['month', { period: 'month' }],
        ['28d', { from: '2024-04-23', to: '2024-05-20' }],
        ['91d', { from: '2024-02-20', to: '2024-05-20' }],
        ['all', { from: '2024-05-01', to: '2024-05-20' }],
        ['year', { from: '2024-01-01', to: '2024-05-20' }],
        [['2024-05-03', '2024-05-12'], { from: '2024-05-03', to: '2024-05-12' }],
      ),
    });
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(caseArbitrary, async ({ metrics, dimensions, filters, range }) => {
        const times = dimensions.filter((pair) => pair.interval);
        // One time dimension at most, and percentage needs something to be a share of.
        fc.pre(times.length <= 1);
        fc.pre(dimensions.length > 0 || !metrics.some(([name]) => name === 'percentage'));
        const v2Answer = await v2({
          site_id: 'v2.example',
          metrics: metrics.map(([name]) => name),
          date_range: range[0],
          dimensions: dimensions.map((pair) => pair.v2),
          filters: filters.map((pair) => pair.v2),
        });
        const nativeAnswer = await native({
          siteId: site.id,
          metrics: metrics.map(([, name]) => name),
          dateRange: range[1],
          dimensions: dimensions.flatMap((pair) => (pair.native ? [pair.native] : [])),
          ...(times[0] ? { interval: times[0].interval } : {}),
          filters: filters.flatMap((pair) => pair.native),
          limit: 1000,
        });
        if (nativeAnswer.status === 400) {
          // What the native query refuses (engagement by event name or visit), v2 refuses alike.
          expect(v2Answer.status).toBe(400);
          expect(v2Answer.body.error).toBe(nativeAnswer.body.message);
          return;
        }
        expect(nativeAnswer.status).toBe(200);
        expect(v2Answer.status).toBe(200);
        const expected = (nativeAnswer.body.results as NativeRow[]).map((row) => ({
          dimensions: dimensions.map((pair) =>
            pair.interval
              ? weekClipped(row.time!, pair.interval, nativeAnswer.body.meta.from as string)
              : (row.dimensions[pair.native!] ?? pair.missing ?? null),
          ),
          metrics: metrics.map(([, name]) => row.metrics[name]),
        }));
        expect(v2Answer.body.results).toEqual(expected);
        compared += expected.length;
      }),
      { numRuns: 60, seed: 4242 },
    );
    // The matrix compared real groups, not only empty answers.
    expect(compared).toBeGreaterThan(100);
  }, 300_000);

  it('answers in v2 shape: results, meta with total_rows and time_labels, the query as answered, pagination', async () => {
    const all = await v2({
      site_id: 'v2.example',
      metrics: ['visitors', 'pageviews'],
      date_range: ['2024-05-01', '2024-05-07'],
      dimensions: ['time:day'],
      include: { time_labels: true, total_rows: true },
    }).expect(200);
    expect(all.body.meta.time_labels).toEqual([
      '2024-05-01',
      '2024-05-02',
      '2024-05-03',
      '2024-05-04',
      '2024-05-05',
      '2024-05-06',
      '2024-05-07',
    ]);
    expect(all.body.meta.total_rows).toBe(all.body.results.length);
    expect(all.body.query).toMatchObject({
      site_id: 'v2.example',
      metrics: ['visitors', 'pageviews'],
      // Europe/Berlin in May is UTC+2.
      date_range: ['2024-04-30T22:00:00.000Z', '2024-05-07T21:59:59.000Z'],
      dimensions: ['time:day'],
      order_by: [
        ['time:day', 'asc'],
        ['visitors', 'desc'],
      ],
      pagination: { limit: 10000, offset: 0 },
    });
    const paged = await v2({
      site_id: 'v2.example',
      metrics: ['visitors', 'pageviews'],
      date_range: ['2024-05-01', '2024-05-07'],
      dimensions: ['time:day'],
      pagination: { limit: 2, offset: 1 },
    }).expect(200);
    expect(paged.body.results).toEqual(all.body.results.slice(1, 3));
  });

  it('answers a 400 { error } naming what Siteline does not support or what is malformed', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ metrics: ['conversion_rate'] }, 'can only be queried with a goal dimension or a goal filter'],
      [{ metrics: ['exit_rate'] }, '`exit_rate` is not supported by Siteline'],
      [{ metrics: ['visitors'], filters: [['matches', 'event:page', ['^/blog']]] }, '`matches` is not supported'],
      [{ metrics: ['visitors'], dimensions: ['visit:channel'] }, '`visit:channel` is not supported'],
      [{ metrics: ['visitors'], date_range: '8d' }, 'Invalid date_range "8d"'],
      [{ metrics: ['visitors'], date_range: '24h' }, 'date_range "24h" is not supported by Siteline'],
      [
        { metrics: ['visitors'], filters: [['has_done', ['is', 'event:name', ['Signup']]]] },
        'Siteline supports has_done only around ["is", "event:goal", [goal names]]',
      ],
      [
        { metrics: ['visitors'], include: { comparisons: { mode: 'previous_period' } } },
        'comparisons is not supported',
      ],
      [
        {
          metrics: ['visitors'],
          filters: [
            [
              'or',
              [
                ['is', 'event:page', ['/']],
                ['is', 'visit:country', ['DE']],
              ],
            ],
          ],
        },
        'or is supported by Siteline only between',
      ],
      [{ metrics: ['visitors'], dimensions: ['event:props:$where'] }, 'property key'],
      [{ metrics: ['visitors'], surprise: 1 }, 'Unknown key "surprise"'],
      [{ metrics: ['visitors'], include: { time_labels: true } }, 'requires a time dimension'],
    ];
    for (const [body, message] of cases) {
      const response = await v2({ site_id: 'v2.example', date_range: '7d', ...body }).expect(400);
      expect(response.body).toEqual({
        statusCode: 400,
        error: expect.stringContaining(message),
        message: response.body.error,
      });
    }
  });

  it('takes a read key or an admin token, and refuses an ingest-only key and other sites', async () => {
    const body = { site_id: 'v2.example', metrics: ['visitors'], date_range: 'all' };
    await v2(body).expect(200);
    await request(app.url).post('/api/v2/query').auth(adminToken, { type: 'bearer' }).send(body).expect(200);
    await v2(body, ingestKey).expect(403);
    await request(app.url).post('/api/v2/query').send(body).expect(401);
    const other = await createSite(app.url, adminToken, { domain: 'other-v2.example' });
    await v2({ ...body, site_id: other.domain }).expect(403);
  });
});

interface NativeRow {
  dimensions: Record<string, string | null>;
  time?: string;
  metrics: Record<string, number>;
}

/** v2 labels a week that starts before the range by the range's first day. */
function weekClipped(label: string, interval: string, from: string): string {
  return interval === 'week' && label < from ? from : label;
}
