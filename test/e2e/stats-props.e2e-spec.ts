import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { RollupJob, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const A = '81.2.69.142';
const B = '195.154.0.1';
const C = '46.4.0.1';

const hit = (ip: string, timestamp: string, path: string, extra: Record<string, unknown> = {}) => ({
  url: `https://props.example${path}`,
  ip,
  timestamp,
  userAgent: FIREFOX,
  ...extra,
});

/**
 * Three visitors, one visit each (UTC site):
 * - A: page view of `/` with all five UTM fields (term `shoes`, content `banner`), then Signup {plan: pro, seats: 5}
 * - B: page view of `/pricing` with utm_term `boots`, then Signup {plan: free, seats: 1}, Signup {plan: pro}
 * - C: page view of `/`, then Download {plan: pro, seats: "5"} (the number as a string)
 * Event hits carry no UTM fields (their URLs have none); their visits' first hits do. Every number
 * below is counted from this list.
 */
const HITS = [
  hit(
    A,
    '2024-03-05T10:00:00Z',
    '/?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=banner',
  ),
  hit(A, '2024-03-05T10:01:00Z', '/', { name: 'Signup', props: { plan: 'pro', seats: 5 } }),
  hit(B, '2024-03-05T11:00:00Z', '/pricing?utm_term=boots'),
  hit(B, '2024-03-05T11:02:00Z', '/pricing', { name: 'Signup', props: { plan: 'free', seats: 1 } }),
  hit(B, '2024-03-05T11:03:00Z', '/pricing', { name: 'Signup', props: { plan: 'pro' } }),
  hit(C, '2024-03-06T09:00:00Z', '/'),
  hit(C, '2024-03-06T09:01:00Z', '/', { name: 'Download', props: { plan: 'pro', seats: '5' } }),
];

describe('custom-event properties and every UTM field as dimensions and filters', () => {
  let app: TestApp;
  let site: CreatedSite;
  let token: string;
  const clock = new FixedClock(new Date('2024-03-10T12:00:00Z'));
  const dateRange = { from: '2024-03-01', to: '2024-03-10' };

  const query = (body: Record<string, unknown>) =>
    request(app.url)
      .post('/api/v1/stats/query')
      .auth(token, { type: 'bearer' })
      .send({ siteId: site.id, dateRange, ...body });
  const breakdown = (params: Record<string, string>) =>
    request(app.url)
      .get('/api/v1/stats/breakdown')
      .auth(token, { type: 'bearer' })
      .query({ siteId: site.id, ...dateRange, ...params });

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token, { domain: 'props.example', timezone: 'UTC' });
    const ingestKey = (await createKey(app.url, token, site.id, ['ingest'])).key;
    await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits: HITS }).expect(202);
    await app.app.get(SessionsService).flush();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('breaks down by a property: hits without it group as (none), numbers and their text are one value', async () => {
    // plan: pro = A, B, C (3 hits); free = B; none = the three page views.
    const plan = await breakdown({ dimension: 'prop:plan', metrics: 'visitors,events' }).expect(200);
    expect(plan.body.results).toEqual([
      { value: null, label: '(none)', visitors: 3, events: 3 },
      { value: 'pro', label: 'pro', visitors: 3, events: 3 },
      { value: 'free', label: 'free', visitors: 1, events: 1 },
    ]);
    // seats: 5 (A, number) and "5" (C, string) are one value; none = 3 page views and B's second Signup.
    const seats = await query({ metrics: ['visitors', 'events'], dimensions: ['prop:seats'] }).expect(200);
    expect(seats.body.results).toEqual([
      { dimensions: { 'prop:seats': null }, metrics: { visitors: 3, events: 4 } },
      { dimensions: { 'prop:seats': '5' }, metrics: { visitors: 2, events: 2 } },
      { dimensions: { 'prop:seats': '1' }, metrics: { visitors: 1, events: 1 } },
    ]);
  });

  it('filters by a property with every operator, a number matching its text', async () => {
    const visitors = async (filters: unknown[]) =>
      (await query({ metrics: ['visitors', 'events'], filters }).expect(200)).body.results[0].metrics;
    expect(await visitors([['is', 'prop:seats', [5]]])).toEqual({ visitors: 2, events: 2 });
    expect(await visitors([['is', 'prop:seats', ['5']]])).toEqual({ visitors: 2, events: 2 });
    // Not pro: the three page views and B's free Signup.
    expect(await visitors([['is_not', 'prop:plan', ['pro']]])).toEqual({ visitors: 3, events: 4 });
    expect(await visitors([['contains', 'prop:plan', ['R']]])).toEqual({ visitors: 3, events: 4 });
    expect(await visitors([['not_contains', 'prop:plan', ['r']]])).toEqual({ visitors: 3, events: 3 });
    // A property filter with a dimension: pro Signups by A and B, the pro Download by C.
    const byName = await query({
      metrics: ['visitors'],
      dimensions: ['event_name'],
      filters: [['is', 'prop:plan', ['pro']]],
    }).expect(200);
    expect(byName.body.results).toEqual([
      { dimensions: { event_name: 'Signup' }, metrics: { visitors: 2 } },
      { dimensions: { event_name: 'Download' }, metrics: { visitors: 1 } },
    ]);
  });

  it('counts visits under a property the way it counts them under any hit-level dimension', async () => {
    // Visits with a hit where plan=pro: A's, B's and C's; with plan=free: B's; without plan: all three.
    // Ties go by the dimension ascending, null last.
    const response = await query({ metrics: ['visits'], dimensions: ['prop:plan'] }).expect(200);
    expect(response.body.results).toEqual([
      { dimensions: { 'prop:plan': 'pro' }, metrics: { visits: 3 } },
      { dimensions: { 'prop:plan': null }, metrics: { visits: 3 } },
      { dimensions: { 'prop:plan': 'free' }, metrics: { visits: 1 } },
    ]);
  });

  it('groups and filters by utm_term and utm_content', async () => {
    // UTM fields are the visit's (its first hit's): A's visit is `shoes`, B's `boots` (their Signups
    // included), C's has none. One visitor and visit each; ties by the displayed name.
    const term = await breakdown({ dimension: 'utm_term', metrics: 'visitors,visits,events' }).expect(200);
    expect(term.body.results).toEqual([
      { value: 'boots', label: 'boots', visitors: 1, visits: 1, events: 3 },
      { value: null, label: 'Direct / None', visitors: 1, visits: 1, events: 2 },
      { value: 'shoes', label: 'shoes', visitors: 1, visits: 1, events: 2 },
    ]);
    const content = await query({
      metrics: ['pageviews'],
      dimensions: ['utm_content', 'utm_term'],
      filters: [['is', 'utm_content', ['banner']]],
    }).expect(200);
    expect(content.body.results).toEqual([
      { dimensions: { utm_content: 'banner', utm_term: 'shoes' }, metrics: { pageviews: 1 } },
    ]);
  });

  it('answers property queries from raw hits once the rollups cover the range', async () => {
    clock.advance(ROLLUP_SETTLE_MS * 3);
    expect((await app.app.get(RollupJob).runOnce()).ran).toBe(true);
    // Page views and events without visitors are what the hit-count rollups serve; by a property
    // they must still come from the hits. Ties by the dimension ascending, null last.
    const response = await query({ metrics: ['pageviews', 'events'], dimensions: ['prop:plan'] }).expect(200);
    expect(response.body.results).toEqual([
      { dimensions: { 'prop:plan': null }, metrics: { pageviews: 3, events: 3 } },
      { dimensions: { 'prop:plan': 'free' }, metrics: { pageviews: 0, events: 1 } },
      { dimensions: { 'prop:plan': 'pro' }, metrics: { pageviews: 0, events: 3 } },
    ]);
    const filtered = await query({ metrics: ['events'], filters: [['is', 'prop:plan', ['pro']]] }).expect(200);
    expect(filtered.body.results).toEqual([{ dimensions: {}, metrics: { events: 3 } }]);
  });

  it.each([
    ['prop:$where', 'not start with $'],
    ['prop:a.b', 'not contain .'],
    ['prop:', '1–64 characters'],
    [`prop:${'k'.repeat(65)}`, 'characters'],
    ['props', 'must be one of'],
  ])('refuses the dimension %s with a 400 naming it', async (dimension, problem) => {
    const asDimension = await query({ metrics: ['visitors'], dimensions: [dimension] }).expect(400);
    expect(asDimension.body.message).toEqual(expect.stringContaining(problem));
    expect(JSON.stringify(asDimension.body.message)).toContain('dimensions');
    const asFilter = await query({ metrics: ['visitors'], filters: [['is', dimension, ['x']]] }).expect(400);
    expect(asFilter.body.message).toContain('filters[0] dimension');
    const asBreakdown = await breakdown({ dimension }).expect(400);
    expect(JSON.stringify(asBreakdown.body.message)).toContain('dimension');
  });
});
