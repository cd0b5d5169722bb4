import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ObjectId } from 'mongodb';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { goalMatchesHit, type GoalDefinition } from '../../src/goals/goal-matching.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { mulberry32 } from '../support/seeded-random.js';

/**
 * Property test: on random hits (late ones included, sent after the others were sessionized),
 * every conversion figure of the native query and of the v2 API equals a brute-force evaluation
 * of the stored raw hits in plain TypeScript.
 */

const DAY = 86_400_000;
const START = Date.parse('2024-03-01T00:00:00Z');
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];
const IPS = ['81.2.69.142', '89.160.20.112', '2.125.160.216', '67.43.156.1', '216.160.83.56', '175.16.199.1'];
const PATHS = ['/', '/pricing', '/blog', '/blog/launch', '/blog/2024/notes', '/docs', '/Blog/x'];
const EVENTS = ['Signup', 'Purchase', 'Download'];

interface GoalSpec {
  body: Record<string, unknown>;
  name: string;
  definition: GoalDefinition;
  currency: string | null;
}

const GOALS: GoalSpec[] = [
  {
    body: { pagePath: '/blog/*' },
    name: 'Visit /blog/*',
    definition: { kind: 'page', pagePath: '/blog/*' },
    currency: null,
  },
  {
    body: { pagePath: '/pricing' },
    name: 'Visit /pricing',
    definition: { kind: 'page', pagePath: '/pricing' },
    currency: null,
  },
  {
    body: { eventName: 'Signup', property: { key: 'plan', value: 'pro' }, displayName: 'Pro signup' },
    name: 'Pro signup',
    definition: { kind: 'event', eventName: 'Signup', property: { key: 'plan', value: 'pro' } },
    currency: null,
  },
  {
    body: { eventName: 'Purchase', revenueCurrency: 'EUR' },
    name: 'Purchase',
    definition: { kind: 'event', eventName: 'Purchase', property: null },
    currency: 'EUR',
  },
  {
    body: { eventName: 'Purchase', revenueCurrency: 'USD', displayName: 'Purchase (USD)' },
    name: 'Purchase (USD)',
    definition: { kind: 'event', eventName: 'Purchase', property: null },
    currency: 'USD',
  },
];

interface StoredHit {
  siteId: ObjectId;
  ts: Date;
  name: string;
  path: string;
  visitorKey: string;
  classification: string;
  countryCode: string | null;
  browser: string | null;
  props?: Record<string, string | number | boolean>;
  revenueAmount: number | null;
  revenueCurrency: string | null;
  visitId: string | null;
}

type HitFilter = {
  dimension: 'country' | 'page' | 'browser' | 'prop:plan' | 'entry_page';
  operator: 'is' | 'contains';
  value: string;
};

/** Entry page of each visit, from the visits the sessions module derived (after the late hits). */
const entryPaths = new Map<string, string | null>();

function passes(hit: StoredHit, filter: HitFilter): boolean {
  const field =
    filter.dimension === 'entry_page'
      ? (entryPaths.get(hit.visitId ?? '') ?? null)
      : filter.dimension === 'country'
        ? hit.countryCode
        : filter.dimension === 'page'
          ? hit.path
          : filter.dimension === 'browser'
            ? hit.browser
            : hit.props?.plan === undefined
              ? null
              : String(hit.props.plan);
  if (filter.operator === 'is') return field === filter.value;
  return field !== null && field.toLowerCase().includes(filter.value.toLowerCase());
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const percent = (part: number, whole: number) => (whole > 0 ? round((part / whole) * 100, 1) : 0);
const distinct = (hits: StoredHit[]) => new Set(hits.map((hit) => hit.visitorKey)).size;

describe('goals: every conversion figure equals a brute-force evaluation of the raw hits', () => {
  let app: TestApp;
  let site: CreatedSite;
  let token: string;
  let hits: StoredHit[];
  const clock = new FixedClock(new Date('2024-03-20T12:00:00Z'));

  const query = (body: Record<string, unknown>) =>
    request(app.url)
      .post('/api/v1/stats/query')
      .auth(token, { type: 'bearer' })
      .send({ siteId: site.id, ...body });

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token, { domain: 'goals.example', timezone: 'UTC' });
    for (const goal of GOALS) {
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/goals`)
        .auth(token, { type: 'bearer' })
        .send(goal.body)
        .expect(201);
    }
    const ingestKey = (await createKey(app.url, token, site.id, ['ingest'])).key;
    const random = mulberry32(18);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
    const sent = Array.from({ length: 400 }, () => {
      const isEvent = random() < 0.35;
      const name = isEvent ? pick(EVENTS) : 'pageview';
      const plan = random();
      const revenue =
        name === 'Purchase' && random() < 0.8
          ? { currency: pick(['EUR', 'USD', 'eur', 'GBP']), amount: round(random() * 200, 2) }
          : undefined;
      return {
        url: `https://goals.example${pick(PATHS)}`,
        ip: pick(IPS),
        userAgent: pick(USER_AGENTS),
        timestamp: new Date(START + Math.floor(random() * 14 * DAY)).toISOString(),
        name,
        ...(isEvent && plan < 0.7 ? { props: { plan: plan < 0.4 ? 'pro' : 'free' } } : {}),
        ...(revenue ? { revenue } : {}),
      };
    });
    // The first batch in time order and sessionized; then late hits in the middle of those visits.
    const late = sent.filter((_hit, index) => index % 4 === 0);
    const onTime = sent.filter((_hit, index) => index % 4 !== 0).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    for (const batch of [onTime, late]) {
      await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits: batch }).expect(202);
      await app.app.get(SessionsService).flush();
    }
    const stored = (await app.database.db
      .collection('hits')
      .find({ siteId: new (await import('mongodb')).ObjectId(site.id) })
      .toArray()) as unknown as Array<Partial<StoredHit>>;
    // A hit stores only the fields it has a value for: an absent one reads as null, as the stats read it.
    hits = stored.map((hit) => ({
      ...(hit as StoredHit),
      countryCode: hit.countryCode ?? null,
      browser: hit.browser ?? null,
      revenueAmount: hit.revenueAmount ?? null,
      revenueCurrency: hit.revenueCurrency ?? null,
    }));
    expect(hits.length).toBe(400);
    const visits = await app.database.db
      .collection<{ _id: string; entryPath: string | null }>('visits')
      .find({})
      .toArray();
    for (const visit of visits) entryPaths.set(visit._id, visit.entryPath);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  const random = mulberry32(7);
  const cases = Array.from({ length: 14 }, (_value, index) => {
    const first = Math.floor(random() * 10);
    const length = 1 + Math.floor(random() * 8);
    const from = new Date(START + first * DAY).toISOString().slice(0, 10);
    const to = new Date(START + (first + length - 1) * DAY).toISOString().slice(0, 10);
    const options: Array<HitFilter | null> = [
      null,
      { dimension: 'country', operator: 'is', value: 'GB' },
      { dimension: 'page', operator: 'contains', value: 'blog' },
      { dimension: 'browser', operator: 'is', value: 'Firefox' },
      { dimension: 'prop:plan', operator: 'is', value: 'pro' },
      { dimension: 'entry_page', operator: 'is', value: '/' },
    ];
    return { index, from, to, filter: options[index % options.length] };
  });

  /** The hits of a range: `[from, to + 1 day)` in UTC, humans only (the query's default). */
  const inRange = (from: string, to: string) => {
    const start = Date.parse(`${from}T00:00:00Z`);
    const end = Date.parse(`${to}T00:00:00Z`) + DAY;
    return hits.filter((hit) => hit.ts.getTime() >= start && hit.ts.getTime() < end && hit.classification === 'USER');
  };

  it('has data to compare: every goal converts over the whole range and revenue is present in EUR and USD', async () => {
    const range = inRange('2024-03-01', '2024-03-20');
    for (const goal of GOALS)
      expect(range.filter((hit) => goalMatchesHit(goal.definition, hit)).length).toBeGreaterThan(3);
    for (const currency of ['EUR', 'USD', 'GBP']) {
      expect(range.filter((hit) => hit.revenueCurrency === currency).length).toBeGreaterThan(0);
    }
    expect(range.filter((hit) => hit.path === '/Blog/x' && hit.name === 'pageview').length).toBeGreaterThan(0);
  });

  it.each(cases)('case $index: goal breakdown over $from to $to with filter $filter', async ({ from, to, filter }) => {
    const range = inRange(from, to);
    const filtered = filter ? range.filter((hit) => passes(hit, filter)) : range;
    const denominator = filter?.dimension === 'prop:plan' ? range : filtered;
    const totalVisitors = distinct(denominator);
    const expected = GOALS.map((goal) => {
      const converted = filtered.filter((hit) => goalMatchesHit(goal.definition, hit));
      const paid = converted.filter(
        (hit) => goal.currency && hit.revenueCurrency === goal.currency && hit.revenueAmount !== null,
      );
      const sum = paid.reduce((total, hit) => total + hit.revenueAmount!, 0);
      return {
        goal: goal.name,
        visitors: distinct(converted),
        events: converted.length,
        conversionRate: percent(distinct(converted), totalVisitors),
        revenueTotal: goal.currency ? round(sum, 2) : null,
        revenueAverage: goal.currency ? (paid.length > 0 ? round(sum / paid.length, 2) : 0) : null,
      };
    }).filter((row) => row.events > 0);

    const filters = filter ? [[filter.operator, filter.dimension, [filter.value]]] : [];
    const response = await query({
      dateRange: { from, to },
      dimensions: ['goal'],
      filters,
      metrics: ['visitors', 'events', 'conversionRate', 'revenueTotal', 'revenueAverage'],
      orderBy: [{ field: 'goal', direction: 'asc' }],
    }).expect(200);
    const actual = response.body.results.map(
      (row: { dimensions: { goal: string }; metrics: Record<string, number> }) => ({
        goal: row.dimensions.goal,
        ...row.metrics,
      }),
    );
    const byName = (a: { goal: string }, b: { goal: string }) => a.goal.localeCompare(b.goal);
    expect(actual.sort(byName)).toEqual(expected.sort(byName));
  });

  it.each(cases)(
    'case $index: a goal filter with a country breakdown and group rates, $from to $to',
    async ({ from, to, filter }) => {
      const goal =
        GOALS[cases.findIndex((item) => item.from === from && item.to === to && item.filter === filter) % GOALS.length];
      const range = inRange(from, to);
      const filtered = filter ? range.filter((hit) => passes(hit, filter)) : range;
      const denominator = filter?.dimension === 'prop:plan' ? range : filtered;
      const converted = filtered.filter((hit) => goalMatchesHit(goal.definition, hit));
      const countries = [...new Set(converted.map((hit) => hit.countryCode))];
      const expected = countries.map((country) => {
        const group = converted.filter((hit) => hit.countryCode === country);
        return {
          country,
          visitors: distinct(group),
          events: group.length,
          conversionRate: percent(distinct(group), distinct(denominator)),
          groupConversionRate: percent(
            distinct(group),
            distinct(denominator.filter((hit) => hit.countryCode === country)),
          ),
        };
      });
      const response = await query({
        dateRange: { from, to },
        dimensions: ['country'],
        filters: [
          ['is', 'goal', [goal.name]],
          ...(filter ? [[filter.operator, filter.dimension, [filter.value]]] : []),
        ],
        metrics: ['visitors', 'events', 'conversionRate', 'groupConversionRate'],
      }).expect(200);
      const actual = response.body.results.map(
        (row: { dimensions: { country: string | null }; metrics: Record<string, number> }) => ({
          country: row.dimensions.country,
          ...row.metrics,
        }),
      );
      const byCountry = (a: { country: string | null }, b: { country: string | null }) =>
        String(a.country).localeCompare(String(b.country));
      expect(actual.sort(byCountry)).toEqual(expected.sort(byCountry));
    },
  );

  it.each(cases)(
    'case $index: has_done / has_not_done through /api/v2/query, $from to $to',
    async ({ index, from, to, filter }) => {
      const goal = GOALS[index % GOALS.length];
      const range = inRange(from, to);
      const doers = new Set(range.filter((hit) => goalMatchesHit(goal.definition, hit)).map((hit) => hit.visitorKey));
      const v2Names: Record<string, string> = {
        country: 'visit:country',
        page: 'event:page',
        browser: 'visit:browser',
        entry_page: 'visit:entry_page',
      };
      const usable = filter && v2Names[filter.dimension] ? filter : null;
      const filtered = usable ? range.filter((hit) => passes(hit, usable)) : range;
      const v2Filter = usable ? [[usable.operator, v2Names[usable.dimension], [usable.value]]] : [];
      for (const operator of ['has_done', 'has_not_done'] as const) {
        const kept = filtered.filter((hit) => doers.has(hit.visitorKey) === (operator === 'has_done'));
        const response = await request(app.url)
          .post('/api/v2/query')
          .auth(token, { type: 'bearer' })
          .send({
            site_id: site.domain,
            date_range: [from, to],
            metrics: ['visitors', 'pageviews', 'events'],
            filters: [[operator, ['is', 'event:goal', [goal.name]]], ...v2Filter],
          })
          .expect(200);
        expect({ operator, metrics: response.body.results[0]?.metrics }).toEqual({
          operator,
          metrics: [distinct(kept), kept.filter((hit) => hit.name === 'pageview').length, kept.length],
        });
      }
    },
  );
});
