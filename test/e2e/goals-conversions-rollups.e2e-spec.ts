import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { goalMatchesHit, type GoalDefinition } from '../../src/goals/goal-matching.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { RollupCoverageService } from '../../src/stats/rollups/rollup-coverage.service.js';
import { RollupJob, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { mulberry32 } from '../support/seeded-random.js';

/**
 * Property test of the conversion rows the rollup job keeps: on random hits (late ones merging or
 * splitting visits, goals created before and after the hits they count, live hits on the last
 * day read as a raw tail), every goal query the rows answer equals a brute-force evaluation of
 * the stored raw hits, and the rows do answer them (the plan is checked, not assumed).
 */

const DAY = 86_400_000;
const START = Date.parse('2024-03-01T00:00:00Z');
const NOW = new Date('2024-03-20T12:00:00Z');
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];
const IPS = ['81.2.69.142', '89.160.20.112', '2.125.160.216', '67.43.156.1', '216.160.83.56', '175.16.199.1'];
const PATHS = ['/', '/pricing', '/blog', '/blog/launch', '/docs'];
const EVENTS = ['Signup', 'Purchase'];

interface GoalSpec {
  body: Record<string, unknown>;
  name: string;
  definition: GoalDefinition;
  currency: string | null;
  /** Created once the first hits are rolled up: its rows are a backfill. */
  late: boolean;
}

const GOALS: GoalSpec[] = [
  {
    body: { pagePath: '/blog/*' },
    name: 'Visit /blog/*',
    definition: { kind: 'page', pagePath: '/blog/*' },
    currency: null,
    late: false,
  },
  {
    body: { eventName: 'Signup', property: { key: 'plan', value: 'pro' }, displayName: 'Pro signup' },
    name: 'Pro signup',
    definition: { kind: 'event', eventName: 'Signup', property: { key: 'plan', value: 'pro' } },
    currency: null,
    late: false,
  },
  {
    body: { eventName: 'Purchase', revenueCurrency: 'EUR' },
    name: 'Purchase',
    definition: { kind: 'event', eventName: 'Purchase', property: null },
    currency: 'EUR',
    late: true,
  },
  {
    body: { pagePath: '/pricing' },
    name: 'Visit /pricing',
    definition: { kind: 'page', pagePath: '/pricing' },
    currency: null,
    late: true,
  },
];

interface StoredHit {
  ts: Date;
  name: string;
  path: string;
  countryCode?: string;
  browser?: string;
  os?: string;
  device?: string;
  visitorKey: string;
  classification: string;
  props?: Record<string, string | number | boolean>;
  revenueAmount: number | null;
  revenueCurrency: string | null;
}

/** The hit-level dimensions the value rows keep, and the hit field each one reads. */
const VALUE_DIMENSIONS = [
  ['country', 'countryCode'],
  ['page', 'path'],
  ['browser', 'browser'],
  ['os', 'os'],
  ['device', 'device'],
] as const;

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const percent = (part: number, whole: number) => (whole > 0 ? round((part / whole) * 100, 1) : 0);
const distinct = (hits: StoredHit[]) => new Set(hits.map((hit) => hit.visitorKey)).size;

describe('goals: conversions from the rollup rows equal a brute-force evaluation of the raw hits', () => {
  let app: TestApp;
  let site: CreatedSite;
  let token: string;
  let hits: StoredHit[];
  const clock = new FixedClock(NOW);

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
    app.app.get(RollupJob).stopSchedule();
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token, { domain: 'goal-rows.example', timezone: 'UTC' });
    const createGoals = async (late: boolean) => {
      for (const goal of GOALS.filter((spec) => spec.late === late))
        await request(app.url)
          .post(`/api/v1/sites/${site.id}/goals`)
          .auth(token, { type: 'bearer' })
          .send(goal.body)
          .expect(201);
    };
    await createGoals(false);
    const ingestKey = (await createKey(app.url, token, site.id, ['ingest'])).key;
    const random = mulberry32(1818);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
    const hit = (day: number) => {
      const isEvent = random() < 0.35;
      const name = isEvent ? pick(EVENTS) : 'pageview';
      const plan = random();
      return {
        url: `https://goal-rows.example${pick(PATHS)}`,
        ip: pick(IPS),
        userAgent: pick(USER_AGENTS),
        timestamp: new Date(START + day * DAY + Math.floor(random() * DAY)).toISOString(),
        name,
        ...(isEvent && plan < 0.7 ? { props: { plan: plan < 0.4 ? 'pro' : 'free' } } : {}),
        ...(name === 'Purchase' && random() < 0.8
          ? { revenue: { currency: pick(['EUR', 'USD']), amount: round(random() * 200, 2) } }
          : {}),
      };
    };
    const sent = Array.from({ length: 360 }, () => hit(Math.floor(random() * 14)));
    const send = async (batch: unknown[]) => {
      await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits: batch }).expect(202);
      await app.app.get(SessionsService).flush();
    };
    const settle = async () => {
      clock.advance(ROLLUP_SETTLE_MS + 1_000);
      expect((await app.app.get(RollupJob).runOnce()).ran).toBe(true);
    };
    // On-time hits rolled up; then the late goals (backfilled from them); then late hits in the
    // middle of those visits, merging or splitting them, rolled up on top.
    const late = sent.filter((_hit, index) => index % 4 === 0);
    const onTime = sent.filter((_hit, index) => index % 4 !== 0).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    await send(onTime);
    await settle();
    await createGoals(true);
    await settle();
    await send(late);
    await settle();
    // Live traffic: hits on "today", received now, not yet rolled up (a raw tail).
    clock.set(new Date(START + 19 * DAY + 13 * 3_600_000));
    await send(
      Array.from({ length: 40 }, () => hit(19)).map((item) => ({ ...item, timestamp: clock.now().toISOString() })),
    );
    // The clock moved past the access token's lifetime.
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    hits = (await app.database.db
      .collection('hits')
      .find({ siteId: new ObjectId(site.id) })
      .toArray()) as unknown as StoredHit[];
    expect(hits.length).toBe(400);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
  });

  const random = mulberry32(11);
  const cases = Array.from({ length: 12 }, (_value, index) => {
    const first = Math.floor(random() * 14);
    // Every third range ends today, with the live hits of the tail.
    const last = index % 3 === 0 ? 19 : Math.min(19, first + Math.floor(random() * 8));
    const day = (offset: number) => new Date(START + offset * DAY).toISOString().slice(0, 10);
    return { index, from: day(first), to: day(last), classification: index % 4 === 1 ? 'BOT' : undefined };
  });

  const inRange = (from: string, to: string, classification: string) => {
    const start = Date.parse(`${from}T00:00:00Z`);
    const end = Date.parse(`${to}T00:00:00Z`) + DAY;
    return hits.filter(
      (hit) => hit.ts.getTime() >= start && hit.ts.getTime() < end && hit.classification === classification,
    );
  };

  const expectedRow = (goal: GoalSpec, range: StoredHit[]) => {
    const converted = range.filter((hit) => goalMatchesHit(goal.definition, hit));
    const paid = converted.filter(
      (hit) => goal.currency && hit.revenueCurrency === goal.currency && hit.revenueAmount !== null,
    );
    const sum = paid.reduce((total, hit) => total + hit.revenueAmount!, 0);
    return {
      visitors: distinct(converted),
      events: converted.length,
      revenueTotal: goal.currency ? round(sum, 2) : null,
      revenueAverage: goal.currency ? (paid.length > 0 ? round(sum / paid.length, 2) : 0) : null,
    };
  };

  it('has data to compare: every goal converts before and after its creation, and live hits convert', () => {
    for (const goal of GOALS)
      expect(hits.filter((hit) => goalMatchesHit(goal.definition, hit)).length).toBeGreaterThan(3);
    const live = inRange('2024-03-20', '2024-03-20', 'USER');
    expect(GOALS.some((goal) => live.some((hit) => goalMatchesHit(goal.definition, hit)))).toBe(true);
  });

  it.each(cases)(
    'case $index: goal breakdown over $from to $to ($classification) is read from the rows and exact',
    async ({ from, to, classification }) => {
      const range = inRange(from, to, classification ?? 'USER');
      const expected = GOALS.map((goal) => ({ goal: goal.name, ...expectedRow(goal, range) })).filter(
        (row) => row.events > 0,
      );
      const plans: string[] = [];
      const coverage = app.app.get(RollupCoverageService);
      const planConversions = coverage.planConversions.bind(coverage);
      coverage.planConversions = async (...args) => {
        const plan = await planConversions(...args);
        plans.push(plan.source === 'goal-counts' ? `goal-counts${plan.tail ? '+tail' : ''}` : plan.source);
        return plan;
      };
      try {
        const response = await query({
          dateRange: { from, to },
          dimensions: ['goal'],
          ...(classification ? { classification } : {}),
          metrics: ['visitors', 'events', 'revenueTotal', 'revenueAverage'],
        }).expect(200);
        const actual = response.body.results.map(
          (row: { dimensions: { goal: string }; metrics: Record<string, number> }) => ({
            goal: row.dimensions.goal,
            ...row.metrics,
          }),
        );
        const byName = (a: { goal: string }, b: { goal: string }) => a.goal.localeCompare(b.goal);
        expect(actual.sort(byName)).toEqual(expected.sort(byName));
        expect(plans).toEqual([to === '2024-03-20' ? 'goal-counts+tail' : 'goal-counts']);

        // One goal named without the goal dimension: the same figures, from the same rows.
        const goal = GOALS[cases.findIndex((item) => item.from === from && item.to === to) % GOALS.length];
        const single = await query({
          dateRange: { from, to },
          filters: [['is', 'goal', [goal.name]]],
          ...(classification ? { classification } : {}),
          metrics: ['visitors', 'events'],
        }).expect(200);
        const { visitors, events } = expectedRow(goal, range);
        expect(single.body.results.map((row: { metrics: Record<string, number> }) => row.metrics)).toEqual(
          events > 0 ? [{ visitors, events }] : [],
        );
        expect(plans[1]).toMatch(/^goal-counts/);
      } finally {
        coverage.planConversions = planConversions;
      }
    },
  );

  it.each(cases)(
    'case $index: a breakdown by a hit-level dimension filtered by a goal, $from to $to ($classification), is read from the value rows and exact',
    async ({ index, from, to, classification }) => {
      const [dimension, field] = VALUE_DIMENSIONS[index % VALUE_DIMENSIONS.length];
      const goal = GOALS[index % GOALS.length];
      const range = inRange(from, to, classification ?? 'USER');
      // A hit stores only the fields it has a value for: an absent one groups as null.
      const valueOf = (hit: StoredHit) => hit[field] ?? null;
      const converted = range.filter((hit) => goalMatchesHit(goal.definition, hit));
      const values = [...new Set(converted.map(valueOf))];
      expect(values.length).toBeGreaterThan(0);
      const byValue = (a: { value: string | null }, b: { value: string | null }) =>
        String(a.value).localeCompare(String(b.value));
      const expected = values
        .map((value) => {
          const group = converted.filter((hit) => valueOf(hit) === value);
          return {
            value,
            visitors: distinct(group),
            events: group.length,
            groupConversionRate: percent(distinct(group), distinct(range.filter((hit) => valueOf(hit) === value))),
          };
        })
        .sort(byValue);
      const plans: string[] = [];
      const coverage = app.app.get(RollupCoverageService);
      const planConversions = coverage.planConversions.bind(coverage);
      coverage.planConversions = async (...args) => {
        const plan = await planConversions(...args);
        plans.push(plan.source === 'raw' ? 'raw' : `${plan.source}${plan.tail ? '+tail' : ''}`);
        return plan;
      };
      const tailed = to === '2024-03-20' ? 'goal-value-counts+tail' : 'goal-value-counts';
      try {
        const response = await query({
          dateRange: { from, to },
          dimensions: [dimension],
          filters: [['is', 'goal', [goal.name]]],
          ...(classification ? { classification } : {}),
          metrics: ['visitors', 'events', 'groupConversionRate'],
        }).expect(200);
        const actual = response.body.results.map(
          (row: { dimensions: Record<string, string | null>; metrics: Record<string, number> }) => ({
            value: row.dimensions[dimension],
            ...row.metrics,
          }),
        );
        expect(actual.sort(byValue)).toEqual(expected);
        expect(plans).toEqual([tailed]);

        // Every goal by the same dimension: one row per goal and value, revenue in the goal's currency.
        const perGoal = await query({
          dateRange: { from, to },
          dimensions: ['goal', dimension],
          ...(classification ? { classification } : {}),
          metrics: ['visitors', 'events', 'revenueTotal', 'revenueAverage'],
        }).expect(200);
        const expectedPerGoal = GOALS.flatMap((spec) => {
          const goalHits = range.filter((hit) => goalMatchesHit(spec.definition, hit));
          return [...new Set(goalHits.map(valueOf))].map((value) =>
            stableKey({
              goal: spec.name,
              value,
              ...expectedRow(
                spec,
                goalHits.filter((hit) => valueOf(hit) === value),
              ),
            }),
          );
        }).sort();
        const actualPerGoal = perGoal.body.results
          .map((row: { dimensions: Record<string, string | null>; metrics: Record<string, number> }) =>
            stableKey({ goal: row.dimensions.goal, value: row.dimensions[dimension], ...row.metrics }),
          )
          .sort();
        expect(actualPerGoal).toEqual(expectedPerGoal);
        expect(plans[1]).toBe(tailed);
      } finally {
        coverage.planConversions = planConversions;
      }
    },
  );

  // And today alone: every converter of the range is in the raw tail.
  const today = { index: cases.length, from: '2024-03-20', to: '2024-03-20', classification: undefined };
  it.each([...cases, today])(
    'case $index: has_done / has_not_done over $from to $to ($classification) read their converters from the member rows, exactly',
    async ({ index, from, to, classification }) => {
      const goals = index === today.index ? GOALS : [GOALS[index % GOALS.length], GOALS[(index + 1) % GOALS.length]];
      const range = inRange(from, to, classification ?? 'USER');
      const doers = new Set(
        range.filter((hit) => goals.some((goal) => goalMatchesHit(goal.definition, hit))).map((hit) => hit.visitorKey),
      );
      expect(doers.size).toBeGreaterThan(0);
      const plans: string[] = [];
      const coverage = app.app.get(RollupCoverageService);
      const planBehaviour = coverage.planBehaviour.bind(coverage);
      coverage.planBehaviour = async (...args) => {
        const plan = await planBehaviour(...args);
        plans.push(plan.source === 'raw' ? 'raw' : `${plan.source}${plan.tail ? '+tail' : ''}`);
        return plan;
      };
      try {
        for (const operator of ['has_done', 'has_not_done'] as const) {
          // Any of two goals, with an ordinary filter beside it (the behaviour ignores it).
          const kept = range.filter(
            (hit) => doers.has(hit.visitorKey) === (operator === 'has_done') && hit.path !== '/docs',
          );
          const response = await query({
            dateRange: { from, to },
            filters: [
              [operator, 'goal', goals.map((goal) => goal.name)],
              ['is_not', 'page', ['/docs']],
            ],
            ...(classification ? { classification } : {}),
            metrics: ['visitors', 'pageviews', 'events'],
          }).expect(200);
          // A query without dimensions answers one row, of zeros when nothing is kept.
          expect({ operator, metrics: response.body.results[0]?.metrics }).toEqual({
            operator,
            metrics: {
              visitors: distinct(kept),
              pageviews: kept.filter((hit) => hit.name === 'pageview').length,
              events: kept.length,
            },
          });
        }
        const planned = to === '2024-03-20' ? 'goal-members+tail' : 'goal-members';
        expect(plans).toEqual([planned, planned]);
      } finally {
        coverage.planBehaviour = planBehaviour;
      }
    },
  );
});

function stableKey(row: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(row)
      .sort()
      .map((key) => [key, row[key]]),
  );
}
