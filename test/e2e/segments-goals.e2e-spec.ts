import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const CHROME =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

const hit = (ip: string, timestamp: string, path: string, extra: Record<string, unknown> = {}) => ({
  url: `https://goalseg.example${path}`,
  ip,
  timestamp,
  userAgent: FIREFOX,
  ...extra,
});

/**
 * Six visitors (UTC site): 1, 2 and 3 sign up (1 and 2 after /pricing, 3 on the next day after
 * a first visit without signing up), 4 and 5 see /pricing and leave, 6 reads the blog in Chrome.
 * So `has_done Signup` keeps visitors 1-3 (and all of 3's hits, the first visit's too), the goal
 * filter keeps the three Signup hits, and neither is the whole site.
 */
const HITS = [
  hit('10.1.0.1', '2024-03-05T10:00:00Z', '/'),
  hit('10.1.0.1', '2024-03-05T10:01:00Z', '/pricing'),
  hit('10.1.0.1', '2024-03-05T10:02:00Z', '/pricing', { name: 'Signup', props: { plan: 'pro' } }),
  hit('10.1.0.2', '2024-03-05T11:00:00Z', '/pricing', { referrer: 'https://news.example/a' }),
  hit('10.1.0.2', '2024-03-05T11:01:00Z', '/pricing', { name: 'Signup', props: { plan: 'free' } }),
  hit('10.1.0.3', '2024-03-05T12:00:00Z', '/blog'),
  hit('10.1.0.3', '2024-03-06T12:00:00Z', '/'),
  hit('10.1.0.3', '2024-03-06T12:01:00Z', '/', { name: 'Signup', props: { plan: 'team' } }),
  hit('10.1.0.4', '2024-03-05T13:00:00Z', '/pricing', { referrer: 'https://news.example/b' }),
  hit('10.1.0.5', '2024-03-06T09:00:00Z', '/'),
  hit('10.1.0.5', '2024-03-06T09:05:00Z', '/pricing'),
  hit('10.1.0.6', '2024-03-06T10:00:00Z', '/blog', { userAgent: CHROME }),
  hit('10.1.0.6', '2024-03-06T10:03:00Z', '/blog/post', { userAgent: CHROME }),
  // Engagement records (no hits): /pricing read 30 s by visitor 1, who signs up, and 90 s by visitor 4, who does not.
  hit('10.1.0.1', '2024-03-05T10:01:50Z', '/pricing', { name: 'engagement', engagementMs: 30_000, scrollDepth: 40 }),
  hit('10.1.0.4', '2024-03-05T13:01:30Z', '/pricing', { name: 'engagement', engagementMs: 90_000, scrollDepth: 80 }),
];

type Body = Record<string, unknown> & { meta?: Record<string, unknown> };

/** The answer without `meta.segment`, the one thing a segment adds to the same filters given inline. */
function withoutSegmentId(body: Body): Body {
  if (!body.meta) return body;
  const { segment: _segment, ...meta } = body.meta;
  return { ...body, meta };
}

describe('saved segments holding goal and behavioural filters: checked on save, applied as the same filters inline', () => {
  let app: TestApp;
  let site: CreatedSite;
  let admin: string;
  let readKey: string;
  let signupGoal: string;
  let pricingGoal: string;
  let funnelId: string;
  const segments: Record<string, string> = {};
  const clock = new FixedClock(new Date('2024-03-10T12:00:00Z'));
  const range = { from: '2024-03-01', to: '2024-03-10' };
  const segmentsPath = () => `/api/v1/sites/${site.id}/segments`;

  const saveSegment = (name: string, filters: unknown[]) =>
    request(app.url).post(segmentsPath()).auth(admin, { type: 'bearer' }).send({ name, filters });
  const get = (path: string, params: Record<string, string>) =>
    request(app.url)
      .get(path)
      .auth(readKey, { type: 'bearer' })
      .query({ siteId: site.id, ...params });
  const post = (path: string, body: object) => request(app.url).post(path).auth(readKey, { type: 'bearer' }).send(body);

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, admin, { domain: 'goalseg.example', timezone: 'UTC' });
    readKey = (await createKey(app.url, admin, site.id, ['read'])).key;
    const ingestKey = (await createKey(app.url, admin, site.id, ['ingest'])).key;
    await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits: HITS }).expect(202);
    await app.app.get(SessionsService).flush();
    const goal = async (body: object) =>
      (
        await request(app.url)
          .post(`/api/v1/sites/${site.id}/goals`)
          .auth(admin, { type: 'bearer' })
          .send(body)
          .expect(201)
      ).body.id as string;
    signupGoal = await goal({ eventName: 'Signup' });
    pricingGoal = await goal({ pagePath: '/pricing' });
    funnelId = (
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/funnels`)
        .auth(admin, { type: 'bearer' })
        .send({ name: 'Pricing to signup', goalIds: [pricingGoal, signupGoal] })
        .expect(201)
    ).body.id as string;
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('saves goal and behavioural filters, and refuses with a 400 a goal name the site does not have', async () => {
    const cases: Record<string, unknown[]> = {
      signups: [['is', 'goal', ['Signup']]],
      converted: [['has_done', 'goal', ['Signup']]],
      unconverted: [
        ['has_not_done', 'goal', ['Signup']],
        ['is', 'page', ['/pricing']],
      ],
    };
    for (const [name, filters] of Object.entries(cases)) {
      const created = await saveSegment(name, filters).expect(201);
      expect(created.body).toMatchObject({ name, filters, missingGoals: [] });
      segments[name] = created.body.id as string;
    }
    for (const filters of [
      [['is', 'goal', ['Signup', 'Sign up']]],
      [
        ['is', 'page', ['/']],
        ['has_done', 'goal', ['Sign up']],
      ],
      [['has_not_done', 'goal', ['Sign up']]],
    ]) {
      const refused = await saveSegment('Unknown goal', filters).expect(400);
      expect(refused.body.message).toMatch(/^filters\[\d\]: "Sign up" is not a goal of site goalseg\.example$/);
    }
    const badOperator = await saveSegment('Bad', [['is_not', 'goal', ['Signup']]]).expect(400);
    expect(badOperator.body.message).toContain('filters[0] operator on goal must be one of');
    // `contains` is a pattern over goal names, not a goal: kept as given, like Plausible.
    await saveSegment('Sign-ish', [['contains', 'goal', ['sign']]]).expect(201);
    expect(
      await app.database.db.collection('segments').countDocuments({ name: { $in: ['Unknown goal', 'Bad'] } }),
    ).toBe(0);
  });

  it('answers with a has_done / has_not_done segment exactly what the same filters give inline, on every read', async () => {
    const cases = [
      { segment: segments.converted, filters: [['has_done', 'goal', ['Signup']]] },
      {
        segment: segments.unconverted,
        filters: [
          ['is', 'page', ['/pricing']],
          ['has_not_done', 'goal', ['Signup']],
        ],
      },
    ];
    const unfiltered = (await get('/api/v1/stats/overview', range).expect(200)).body;
    for (const { segment, filters } of cases) {
      // The segment's own filters come first in meta.filters, then the request's: inline, give them in that order.
      const inline = JSON.stringify(filters);
      const extra = [['is', 'browser', ['Firefox']]];
      const withExtra = JSON.stringify([...filters, ...extra]);
      const reads: Array<[string, Record<string, string>, Record<string, string>]> = [
        ['/api/v1/stats/overview', { ...range, segment }, { ...range, filters: inline }],
        [
          '/api/v1/stats/overview',
          { ...range, segment, filters: JSON.stringify(extra) },
          { ...range, filters: withExtra },
        ],
        [
          '/api/v1/stats/timeseries',
          { ...range, segment, metrics: 'visitors,pageviews,bounceRate' },
          { ...range, filters: inline, metrics: 'visitors,pageviews,bounceRate' },
        ],
        [
          '/api/v1/stats/breakdown',
          { ...range, segment, dimension: 'page', metrics: 'visitors,pageviews' },
          { ...range, filters: inline, dimension: 'page', metrics: 'visitors,pageviews' },
        ],
        // The dashboard's Pages panel: engagement metrics under the behavioural filter too.
        [
          '/api/v1/stats/breakdown',
          { ...range, segment, dimension: 'page', metrics: 'visitors,time_on_page,scroll_depth' },
          { ...range, filters: inline, dimension: 'page', metrics: 'visitors,time_on_page,scroll_depth' },
        ],
        ['/api/v1/stats/funnel', { ...range, segment, funnelId }, { ...range, filters: inline, funnelId }],
      ];
      for (const [path, bySegment, byFilters] of reads) {
        const [saved, given] = await Promise.all([get(path, bySegment), get(path, byFilters)]);
        expect([path, saved.status, given.status]).toEqual([path, 200, 200]);
        expect(saved.body.meta.segment).toBe(segment);
        expect(withoutSegmentId(saved.body)).toEqual(withoutSegmentId(given.body));
      }
      const query = { siteId: site.id, metrics: ['visitors', 'events', 'visits'], dateRange: range };
      for (const body of [query, { ...query, dimensions: ['source'] }, { ...query, interval: 'day' }]) {
        const [saved, given] = await Promise.all([
          post('/api/v1/stats/query', { ...body, segment }).expect(200),
          post('/api/v1/stats/query', { ...body, filters }).expect(200),
        ]);
        expect(withoutSegmentId(saved.body)).toEqual(withoutSegmentId(given.body));
      }
    }
    // The filters did something: has_done keeps visitors 1-3 of 6, has_not_done on /pricing visitors 4 and 5.
    expect(unfiltered.results.visitors.value).toBe(6);
    const converted = await get('/api/v1/stats/overview', { ...range, segment: segments.converted }).expect(200);
    expect(converted.body.results.visitors.value).toBe(3);
    expect(converted.body.meta.filters).toEqual([{ operator: 'has_done', dimension: 'goal', values: ['Signup'] }]);
    const unconverted = await get('/api/v1/stats/overview', { ...range, segment: segments.unconverted }).expect(200);
    expect(unconverted.body.results.visitors.value).toBe(2);
    // Time on /pricing: 60 s for both readers, 30 s for the one who signed up, 90 s for the other.
    const pricingEngagement = async (params: Record<string, string>) => {
      const response = await get('/api/v1/stats/breakdown', {
        ...range,
        ...params,
        dimension: 'page',
        metrics: 'time_on_page,scroll_depth',
      }).expect(200);
      const row = response.body.results.find((result: { value: string }) => result.value === '/pricing');
      return [row?.time_on_page, row?.scroll_depth];
    };
    expect(await pricingEngagement({})).toEqual([60, 60]);
    expect(await pricingEngagement({ segment: segments.converted })).toEqual([30, 40]);
    expect(await pricingEngagement({ segment: segments.unconverted })).toEqual([90, 80]);
    const funnel = await get('/api/v1/stats/funnel', { ...range, segment: segments.converted, funnelId }).expect(200);
    expect(funnel.body.visitors).toBe(3);
    expect(funnel.body.steps.map((step: { visitors: number }) => step.visitors)).toEqual([2, 2]);

    // The data endpoints take no filters of their own: the segment restricts them like the same general query.
    const users = await request(app.url)
      .get('/api/v1/data/users')
      .auth(readKey, { type: 'bearer' })
      .query({ start_date: range.from, end_date: range.to, segment: segments.converted })
      .expect(200);
    const all = await post('/api/v1/stats/query', {
      siteId: site.id,
      metrics: ['visitors'],
      dateRange: range,
      classification: 'ALL',
      filters: [['has_done', 'goal', ['Signup']]],
    }).expect(200);
    expect(users.body.total).toBe(all.body.results[0].metrics.visitors);
    expect(users.body.total).toBe(3);
  });

  it('answers with a goal-filter segment exactly what the same goal filter gives inline, natively and in v2', async () => {
    const segment = segments.signups;
    const filters = [['is', 'goal', ['Signup']]];
    const query = { siteId: site.id, metrics: ['visitors', 'events', 'conversionRate'], dateRange: range };
    const bodies = [
      query,
      { ...query, dimensions: ['source'], metrics: ['visitors', 'groupConversionRate'] },
      { ...query, dimensions: ['prop:plan'] },
      { ...query, interval: 'day', metrics: ['visitors', 'events'] },
      { ...query, dimensions: ['goal'], filters: [['is', 'page', ['/pricing']]] },
    ];
    for (const body of bodies) {
      const own = (body as { filters?: unknown[] }).filters ?? [];
      const [saved, given] = await Promise.all([
        post('/api/v1/stats/query', { ...body, segment }).expect(200),
        post('/api/v1/stats/query', { ...body, filters: [...filters, ...own] }).expect(200),
      ]);
      expect(withoutSegmentId(saved.body)).toEqual(withoutSegmentId(given.body));
    }
    // Conversions: three Signup hits by three of the six visitors.
    const totals = await post('/api/v1/stats/query', { ...query, segment }).expect(200);
    expect(totals.body.results[0].metrics).toEqual({ visitors: 3, events: 3, conversionRate: 50 });
    expect(totals.body.meta.filters).toEqual([{ operator: 'is', dimension: 'goal', values: ['Signup'] }]);

    const v2 = (filterList: unknown[], extra: object = {}) =>
      post('/api/v2/query', {
        site_id: 'goalseg.example',
        metrics: ['visitors', 'events', 'conversion_rate'],
        date_range: [range.from, range.to],
        filters: filterList,
        ...extra,
      }).expect(200);
    for (const extra of [{}, { dimensions: ['visit:source'] }, { dimensions: ['time:day'] }]) {
      const [saved, given] = await Promise.all([
        v2([['is', 'segment', [segment]]], extra),
        v2([['is', 'event:goal', ['Signup']]], extra),
      ]);
      expect(saved.body.results).toEqual(given.body.results);
      expect(saved.body.results.length).toBeGreaterThan(0);
    }
    const [behaviourSaved, behaviourGiven] = await Promise.all([
      v2([['is', 'segment', [segments.converted]]], { metrics: ['visitors', 'pageviews'] }),
      v2([['has_done', ['is', 'event:goal', ['Signup']]]], { metrics: ['visitors', 'pageviews'] }),
    ]);
    expect(behaviourSaved.body.results).toEqual(behaviourGiven.body.results);
    // Visitors 1-3 viewed /, /pricing; /pricing; /blog, /: five page views.
    expect(behaviourSaved.body.results).toEqual([{ dimensions: [], metrics: [3, 5] }]);
  });

  it('refuses a goal-filter segment with a 400 on the reads that are no goal query, saying which are', async () => {
    for (const [path, params] of [
      ['/api/v1/stats/overview', range],
      ['/api/v1/stats/timeseries', range],
      ['/api/v1/stats/breakdown', { ...range, dimension: 'page' }],
      ['/api/v1/stats/funnel', { ...range, funnelId }],
    ] as const) {
      const refused = await get(path, { ...params, segment: segments.signups }).expect(400);
      expect(refused.body.message).toContain(`segment: segment ${segments.signups} holds a goal filter`);
      expect(refused.body.message).toContain('POST /api/v1/stats/query and POST /api/v2/query do');
    }
    const inline = await get('/api/v1/stats/overview', {
      ...range,
      filters: JSON.stringify([['is', 'goal', ['Signup']]]),
    }).expect(400);
    expect(inline.body.message).toContain('filters hold a goal filter');
    const data = await request(app.url)
      .get('/api/v1/data/countries')
      .auth(readKey, { type: 'bearer' })
      .query({ start_date: range.from, end_date: range.to, segment: segments.signups })
      .expect(400);
    expect(data.body.message).toContain('holds a goal filter');
  });

  it('follows a renamed goal; once the goal is deleted, reads with the segment are 409 naming it until it is edited', async () => {
    const goalsPath = `/api/v1/sites/${site.id}/goals`;
    await request(app.url)
      .patch(`${goalsPath}/${signupGoal}`)
      .auth(admin, { type: 'bearer' })
      .send({ displayName: 'Account created' })
      .expect(200);
    const renamed = await request(app.url)
      .get(`${segmentsPath()}/${segments.converted}`)
      .auth(readKey, { type: 'bearer' })
      .expect(200);
    expect(renamed.body).toMatchObject({ filters: [['has_done', 'goal', ['Account created']]], missingGoals: [] });
    const overview = await get('/api/v1/stats/overview', { ...range, segment: segments.converted }).expect(200);
    expect(overview.body.results.visitors.value).toBe(3);
    expect(overview.body.meta.filters).toEqual([
      { operator: 'has_done', dimension: 'goal', values: ['Account created'] },
    ]);

    await request(app.url).delete(`${goalsPath}/${signupGoal}`).auth(admin, { type: 'bearer' }).expect(204);
    const listed = await request(app.url).get(segmentsPath()).auth(readKey, { type: 'bearer' }).expect(200);
    const byName = Object.fromEntries(
      listed.body.map((segment: { name: string; missingGoals: string[] }) => [segment.name, segment.missingGoals]),
    );
    // The segments keep the name they were saved with; a contains pattern names no goal.
    expect(byName).toEqual({
      converted: ['Signup'],
      signups: ['Signup'],
      unconverted: ['Signup'],
      'Sign-ish': [],
    });
    const refused = await get('/api/v1/stats/overview', { ...range, segment: segments.converted }).expect(409);
    expect(refused.body.message).toBe(
      `segment: segment ${segments.converted} filters on goal "Signup", since deleted from site goalseg.example; ` +
        "change the segment's filters or delete it",
    );
    const v2 = await post('/api/v2/query', {
      site_id: 'goalseg.example',
      metrics: ['visitors'],
      date_range: 'all',
      filters: [['is', 'segment', [segments.signups]]],
    }).expect(409);
    expect(v2.body.error).toContain('"Signup", since deleted');

    // Saving new filters clears it.
    const edited = await request(app.url)
      .patch(`${segmentsPath()}/${segments.converted}`)
      .auth(admin, { type: 'bearer' })
      .send({ filters: [['has_done', 'goal', ['Visit /pricing']]] })
      .expect(200);
    expect(edited.body).toMatchObject({ missingGoals: [] });
    const fixed = await get('/api/v1/stats/overview', { ...range, segment: segments.converted }).expect(200);
    expect(fixed.body.results.visitors.value).toBe(4);
  });
});
