import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { storedHit } from '../../src/hits/stored-hit.js';
import { storedEngagement } from '../../src/ingestion/stored-engagement.js';
import type { Hit } from '../../src/hits/hit.schema.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { DIMENSIONS, dimensionLevel, type Dimension } from '../../src/stats/query/dimensions.js';
import { RollupJob } from '../../src/stats/rollups/rollup.job.js';
import { insertAndSessionize, rawHit, type RawHit } from '../factories/hits.factory.js';
import { createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NOW = new Date('2024-03-06T12:00:00Z');

/** Optional hit fields, each with a value on some hits of HITS and none on others. */
const OPTIONAL_FIELDS = [
  'referrer',
  'referrerHost',
  'source',
  'utmSource',
  'utmMedium',
  'utmCampaign',
  'utmTerm',
  'utmContent',
  'botReason',
  'countryCode',
  'region',
  'city',
  'networkDomain',
  'browser',
  'os',
  'device',
  'revenueAmount',
  'revenueCurrency',
] as const;

/** Optional visit fields, the visit's attribution, place and pages. */
const OPTIONAL_VISIT_FIELDS = [
  'source',
  'referrer',
  'utmSource',
  'utmMedium',
  'utmCampaign',
  'utmTerm',
  'utmContent',
  'countryCode',
  'entryPath',
  'exitPath',
] as const;

type HitFields = Partial<RawHit> & { referrerHost?: string } & Pick<RawHit, 'ts' | 'visitorKey'> &
  Partial<Pick<Hit, 'revenueAmount' | 'revenueCurrency'>>;

const at = (iso: string) => new Date(iso);

/**
 * Six visitors over two UTC days. Every optional field has a value on at least one hit and none
 * on others: v1 arrives from a newsletter with place and device known, v2 comes direct and buys
 * (revenue in EUR), v3 is a bot, v4 has only utm_term/utm_content and a country, v5 sends a
 * custom event with nothing known, v6 comes direct the next day.
 */
const HITS: HitFields[] = [
  {
    ts: at('2024-03-04T09:00:00Z'),
    visitorKey: 'v1',
    path: '/',
    referrer: 'https://news.example/issue-7',
    referrerHost: 'news.example',
    source: 'newsletter',
    utmSource: 'newsletter',
    utmMedium: 'email',
    utmCampaign: 'spring',
    countryCode: 'DE',
    region: 'BE',
    city: 'Berlin',
    networkDomain: 'telekom.de',
    browser: 'Firefox',
    os: 'Windows',
    device: 'desktop',
  },
  {
    ts: at('2024-03-04T09:03:00Z'),
    visitorKey: 'v1',
    path: '/pricing',
    countryCode: 'DE',
    region: 'BE',
    city: 'Berlin',
    browser: 'Firefox',
    os: 'Windows',
    device: 'desktop',
  },
  { ts: at('2024-03-04T10:00:00Z'), visitorKey: 'v2', path: '/', browser: 'Chrome' },
  {
    ts: at('2024-03-04T10:02:00Z'),
    visitorKey: 'v2',
    path: '/checkout',
    name: 'Purchase',
    browser: 'Chrome',
    revenueAmount: 12.5,
    revenueCurrency: 'EUR',
  },
  {
    ts: at('2024-03-04T11:00:00Z'),
    visitorKey: 'v3',
    path: '/robots',
    classification: 'BOT',
    botReason: 'isbot',
    device: 'bot',
  },
  {
    ts: at('2024-03-04T12:00:00Z'),
    visitorKey: 'v4',
    path: '/blog',
    utmTerm: 'shoes',
    utmContent: 'banner',
    countryCode: 'FR',
  },
  { ts: at('2024-03-04T12:01:00Z'), visitorKey: 'v4', path: '/blog/2', countryCode: 'FR' },
  { ts: at('2024-03-04T13:00:00Z'), visitorKey: 'v5', path: '/', name: 'Signup' },
  { ts: at('2024-03-05T08:00:00Z'), visitorKey: 'v6', path: '/', os: 'Linux' },
  { ts: at('2024-03-05T08:30:00Z'), visitorKey: 'v6', path: '/docs', os: 'Linux' },
];

/** As stored before hits left empty fields out: every optional field present, null when empty. */
function storedWithNulls(siteId: ObjectId, fields: HitFields): RawHit {
  return { ...rawHit(siteId, fields), revenueAmount: null, revenueCurrency: null, ...fields } as RawHit;
}

/**
 * Mixed data, as a database holds it after the upgrade: the empty fields of each hit alternate
 * between absent (written now, `storedHit`) and null (written before), so every field is absent
 * on some hits and null on others.
 */
function storedMixed(siteId: ObjectId, fields: HitFields, index: number): RawHit {
  const withNulls = storedWithNulls(siteId, fields) as unknown as Record<string, unknown>;
  const withoutNulls = storedHit(withNulls);
  OPTIONAL_FIELDS.forEach((field, position) => {
    if ((index + position) % 2 === 0 && withNulls[field] === null) withoutNulls[field] = null;
  });
  return withoutNulls as unknown as RawHit;
}

/** Fields a hit has and an engagement record has not (docs: the ingestion module's Engagement). */
const HIT_ONLY_FIELDS = ['name', 'visitId', 'rollupPending', 'revenueAmount', 'revenueCurrency'] as const;

/**
 * The engagement record of each page view of HITS (the page left after 10 s per position, scrolled
 * to a depth per position), as stored before engagements left empty fields out: every optional
 * field present, null when empty.
 */
function engagementWithNulls(siteId: ObjectId, fields: HitFields, index: number): Record<string, unknown> {
  const record: Record<string, unknown> = {
    ...storedWithNulls(siteId, fields),
    ts: new Date(fields.ts.getTime() + 60_000),
    engagementMs: 10_000 * (index + 1),
    scrollDepth: (index * 17) % 101,
  };
  for (const field of HIT_ONLY_FIELDS) delete record[field];
  return record;
}

/** The same record as the mixed site holds it: empty fields alternately absent (written now) and null. */
function engagementMixed(siteId: ObjectId, fields: HitFields, index: number): Record<string, unknown> {
  const withNulls = engagementWithNulls(siteId, fields, index);
  const withoutNulls = storedEngagement(withNulls);
  OPTIONAL_FIELDS.forEach((field, position) => {
    if ((index + position) % 2 === 1 && withNulls[field] === null) withoutNulls[field] = null;
  });
  return withoutNulls;
}

/**
 * Hits, visits and engagement records stored without their empty fields are answered exactly as
 * ones storing them as null: two sites hold the same hits and visits, one as they were all stored before (nulls), the
 * other mixing absent fields and nulls; every breakdown, filter, `/api/v1/data/*`, Plausible v2 and goal answer of
 * the two must be the same bytes, read from raw hits and again from the rollups. The null sites'
 * answers hold the `(none)` rows being compared, so the comparison is not between empty lists.
 */
describe('hits and visits without their empty fields answer exactly as ones storing nulls', () => {
  let app: TestApp;
  let token: string;
  let nulls: CreatedSite;
  let mixed: CreatedSite;
  const clock = new FixedClock(NOW);
  const range = { from: '2024-03-04', to: '2024-03-05' };
  const metrics = 'visitors,visits,pageviews,events,bounceRate,visitDuration,viewsPerVisit';

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    app.app.get(RollupJob).stopSchedule();
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    nulls = await createSite(app.url, token, { domain: 'nulls.example', timezone: 'UTC' });
    mixed = await createSite(app.url, token, { domain: 'mixed.example', timezone: 'UTC' });
    for (const site of [nulls, mixed]) {
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/goals`)
        .auth(token, { type: 'bearer' })
        .send({ eventName: 'Purchase', revenueCurrency: 'EUR' })
        .expect(201);
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/goals`)
        .auth(token, { type: 'bearer' })
        .send({ pagePath: '/pricing' })
        .expect(201);
    }
    const sessions = app.app.get(SessionsService);
    const nullsId = new ObjectId(nulls.id);
    const mixedId = new ObjectId(mixed.id);
    await insertAndSessionize(
      app.database.db,
      sessions,
      nulls.id,
      HITS.map((hit) => storedWithNulls(nullsId, hit)),
      { keepNulls: true },
    );
    await insertAndSessionize(
      app.database.db,
      sessions,
      mixed.id,
      HITS.map((hit, index) => storedMixed(mixedId, hit, index)),
      { keepNulls: true },
    );
    // Visits as stored before they left empty fields out: every one on the nulls site, every
    // other one on the mixed site.
    const visits = app.database.db.collection<{ _id: string }>('visits');
    const withNulls = [
      { $set: Object.fromEntries(OPTIONAL_VISIT_FIELDS.map((field) => [field, { $ifNull: [`$${field}`, null] }])) },
    ];
    await visits.updateMany({ siteId: nullsId }, withNulls);
    const mixedVisits = await visits.find({ siteId: mixedId }).sort({ start: 1 }).toArray();
    const everyOther = mixedVisits.filter((_visit, index) => index % 2 === 0).map((visit) => visit._id);
    await visits.updateMany({ _id: { $in: everyOther } }, withNulls);
    const pageViews = HITS.filter((hit) => hit.name === undefined);
    const engagements = app.database.db.collection('engagements');
    await engagements.insertMany(pageViews.map((hit, index) => engagementWithNulls(nullsId, hit, index)));
    await engagements.insertMany(pageViews.map((hit, index) => engagementMixed(mixedId, hit, index)));
    for (const type of ['null', 'missing'] as const) {
      const stored = { siteId: mixedId, countryCode: type === 'null' ? { $type: 'null' } : { $exists: false } };
      expect(await engagements.countDocuments(stored)).toBeGreaterThan(0);
    }
    expect(await visits.countDocuments({ siteId: mixedId, source: { $exists: false } })).toBeGreaterThan(0);
    expect(await visits.countDocuments({ siteId: mixedId, source: { $type: 'null' } })).toBeGreaterThan(0);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  /** One request for a site; answers are compared once the site's id and domain are masked. */
  type Ask = (site: CreatedSite) => request.Test;
  const get =
    (path: string, query: Record<string, string>): Ask =>
    (site) =>
      request(app.url)
        .get(path)
        .auth(token, { type: 'bearer' })
        .query({ siteId: site.id, ...query });
  const post =
    (path: string, body: (site: CreatedSite) => Record<string, unknown>): Ask =>
    (site) =>
      request(app.url).post(path).auth(token, { type: 'bearer' }).send(body(site));

  const NULLABLE: Dimension[] = DIMENSIONS.filter(
    (dimension) =>
      !['page', 'page_host', 'classification', 'event_name', 'entry_page', 'exit_page'].includes(dimension),
  );

  const breakdowns = DIMENSIONS.map((dimension) => ({
    name: `breakdown by ${dimension}`,
    ask: get('/api/v1/stats/breakdown', { ...range, dimension, metrics, classification: 'ALL' }),
  }));
  const queries = DIMENSIONS.flatMap((dimension) =>
    (
      [
        [],
        [['is_not', dimension, ['news']]],
        [['contains', dimension, ['e']]],
        [['not_contains', dimension, ['e']]],
      ] as unknown[][]
    ).map((filters) => ({
      name: `query by ${dimension} with ${JSON.stringify(filters)}`,
      ask: post('/api/v1/stats/query', (site) => ({
        siteId: site.id,
        dateRange: range,
        classification: 'ALL',
        metrics: ['visitors', 'visits', 'pageviews', 'events', 'bounceRate', 'percentage'],
        dimensions: [dimension],
        filters,
      })),
    })),
  );
  const compound = [
    ['source', 'country'],
    ['utm_medium', 'browser'],
    ['referrer', 'city', 'device'],
    ['network_domain', 'utm_term'],
  ].map((dimensions) => ({
    name: `query by ${dimensions.join(' × ')} per day`,
    ask: post('/api/v1/stats/query', (site) => ({
      siteId: site.id,
      dateRange: range,
      metrics: ['visitors', 'visits', 'pageviews'],
      dimensions,
      interval: 'day',
    })),
  }));
  const goals = [[], ['source'], ['country'], ['utm_campaign']].map((dimensions) => ({
    name: `goals by ${dimensions.join(', ') || 'goal'}`,
    ask: post('/api/v1/stats/query', (site) => ({
      siteId: site.id,
      dateRange: range,
      metrics: ['visitors', 'events', 'conversionRate', 'revenueTotal', 'revenueAverage'],
      dimensions: ['goal', ...dimensions],
    })),
  }));
  const data = ['users', 'views', 'countries', 'cities', 'urls', 'hostnames'].map((endpoint) => ({
    name: `/api/v1/data/${endpoint}`,
    ask: get(`/api/v1/data/${endpoint}`, { start_date: range.from, end_date: range.to }),
  }));
  const overview = [
    { name: 'overview', ask: get('/api/v1/stats/overview', range) },
    { name: 'timeseries by hour', ask: get('/api/v1/stats/timeseries', { ...range, interval: 'hour', metrics }) },
    { name: 'users', ask: get('/api/v1/stats/users', {}) },
  ];
  const v2 = [
    'visit:source',
    'visit:referrer',
    'visit:utm_source',
    'visit:utm_medium',
    'visit:utm_campaign',
    'visit:utm_term',
    'visit:utm_content',
    'visit:country',
    'visit:region',
    'visit:city',
    'visit:device',
    'visit:browser',
    'visit:os',
    'event:goal',
  ].flatMap((dimension) => [
    {
      name: `Plausible v2 by ${dimension}`,
      ask: post('/api/v2/query', (site) => ({
        site_id: site.domain,
        date_range: [range.from, range.to],
        metrics:
          dimension === 'event:goal' ? ['visitors', 'events', 'total_revenue'] : ['visitors', 'visits', 'bounce_rate'],
        dimensions: [dimension],
      })),
    },
    {
      name: `Plausible v2 filtered on ${dimension}`,
      ask: post('/api/v2/query', (site) => ({
        site_id: site.domain,
        date_range: [range.from, range.to],
        metrics: ['visitors', 'events'],
        filters: [dimension === 'event:goal' ? ['is', dimension, ['Purchase']] : ['is_not', dimension, ['news']]],
      })),
    },
  ]);
  // Engagement records have no event name and no visit: their metrics group and filter by hit fields only.
  const ENGAGEMENT_DIMENSIONS = DIMENSIONS.filter(
    (dimension) => dimension !== 'event_name' && dimensionLevel(dimension) === 'hit',
  );
  const engagement = ENGAGEMENT_DIMENSIONS.flatMap((dimension) => [
    {
      name: `engagement breakdown by ${dimension}`,
      ask: get('/api/v1/stats/breakdown', {
        ...range,
        dimension,
        metrics: 'time_on_page,scroll_depth',
        classification: 'ALL',
      }),
    },
    {
      name: `engagement query filtered on ${dimension}`,
      ask: post('/api/v1/stats/query', (site) => ({
        siteId: site.id,
        dateRange: range,
        classification: 'ALL',
        metrics: ['time_on_page', 'scroll_depth'],
        interval: 'day',
        filters: [['is_not', dimension, ['news']]],
      })),
    },
  ]);
  const requests = [...breakdowns, ...queries, ...compound, ...goals, ...data, ...overview, ...v2, ...engagement];

  /** A site's answer to one request, its id and domain masked. */
  const answer = async (name: string, ask: Ask, site: CreatedSite): Promise<string> => {
    const response = await ask(site);
    if (response.status >= 300) throw new Error(`${name}: ${response.status} ${JSON.stringify(response.body)}`);
    return JSON.stringify(response.body).replaceAll(site.id, '<site>').replaceAll(site.domain, '<domain>');
  };

  const expectSameAnswers = async (): Promise<void> => {
    for (const { name, ask } of requests) {
      const expected = await answer(name, ask, nulls);
      const actual = await answer(name, ask, mixed);
      if (actual !== expected) throw new Error(`${name} differs:\nnulls: ${expected}\nmixed: ${actual}`);
    }
  };

  it('answers with the (none) rows being compared: one null row per breakdown of an optional field', async () => {
    for (const dimension of NULLABLE) {
      const response = await get('/api/v1/stats/breakdown', { ...range, dimension, metrics, classification: 'ALL' })(
        nulls,
      ).expect(200);
      const values = (response.body.results as Array<{ value: string | null }>).map((row) => row.value);
      expect({ dimension, nullRows: values.filter((value) => value === null).length }).toEqual({
        dimension,
        nullRows: 1,
      });
      expect(values.length).toBeGreaterThan(1);
    }
  });

  it('answers with the (none) rows of engagement records being compared too', async () => {
    for (const dimension of NULLABLE.filter((name) => ENGAGEMENT_DIMENSIONS.includes(name))) {
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        dimension,
        metrics: 'time_on_page,scroll_depth',
        classification: 'ALL',
      })(nulls).expect(200);
      const rows = response.body.results as Array<{ value: string | null; time_on_page: number }>;
      expect({ dimension, nullRows: rows.filter((row) => row.value === null && row.time_on_page > 0).length }).toEqual({
        dimension,
        nullRows: 1,
      });
    }
  });

  it('answers every request the same from raw hits', async () => {
    await expectSameAnswers();
  }, 120_000);

  it('answers every request the same from the rollups', async () => {
    clock.advance(2 * 60_000);
    expect((await app.app.get(RollupJob).runOnce()).ran).toBe(true);
    await expectSameAnswers();
  }, 120_000);
});
