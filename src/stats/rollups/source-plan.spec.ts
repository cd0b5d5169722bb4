import { describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import type { DaySlice } from '../pipelines/rollup.pipeline.js';
import type { Dimension } from '../query/dimensions.js';
import type { Filter, StatsQuery } from '../query/stats-query.js';
import { daySlice } from './rollup-days.js';
import {
  behaviourSourceCandidates,
  conversionSourceCandidates,
  funnelSourceCandidates,
  planSource,
  sourceCandidates,
  type ConversionSelection,
  type RollupFacts,
  type SourceNeed,
} from './source-plan.js';

// May 2024: the 1st is a Wednesday; the weeks of the 6th and the 13th are whole inside the month.
const base: StatsQuery = {
  siteId: new Types.ObjectId('65f1c0ffee0000000000abcd'),
  timezone: 'UTC',
  start: new Date('2024-05-01T00:00:00Z'),
  end: new Date('2024-05-31T00:00:00Z'),
  classification: 'USER',
  filters: [],
  dimensions: [],
};
const days = (...labels: string[]): DaySlice[] => labels.map((label) => daySlice(label, 'UTC'));
const settled: RollupFacts = {
  usable: true,
  weeksThrough: '2024-05-19',
  unsettledHitDays: [],
  unsettledVisitDays: [],
  unsettledAttributionDays: [],
  now: new Date('2024-05-30T12:00:00Z'),
};
const is = (dimension: string, value: string): Filter => ({
  operator: 'is',
  dimension: dimension as Dimension,
  values: [value],
});

/** [case, need, query changes, facts changes, expected source, expected detail of the plan] */
const TABLE: Array<[string, SourceNeed, Partial<StatsQuery>, Partial<RollupFacts>, string, Record<string, unknown>?]> =
  [
    // Whole-site conditions.
    ['rows built in another zone or awaiting a rebuild', 'visitors', {}, { usable: false }, 'raw'],
    ['unusable rows, visits', 'visits', {}, { usable: false }, 'raw'],
    ['unusable rows, user stats', 'user-stats', {}, { usable: false }, 'raw'],
    // Dimensions the rollups do not keep go raw, whatever the need.
    ['a custom property breakdown', 'visitors', { dimensions: ['prop:plan' as Dimension] }, {}, 'raw'],
    ['a custom property filter on hit counts', 'hit-counts', { filters: [is('prop:plan', 'pro')] }, {}, 'raw'],
    ['exit pages (not kept)', 'visitors', { dimensions: ['exit_page'] }, {}, 'raw'],
    ['an event name breakdown', 'hit-counts', { dimensions: ['event_name'] }, {}, 'raw'],
    // Distinct visitors.
    ['totals, settled', 'visitors', {}, {}, 'visitor-counts', { key: 'total', weeks: ['2024-05-06', '2024-05-13'] }],
    ['totals per day read day rows only', 'visitors', { interval: 'day' }, {}, 'visitor-counts', { weeks: [] }],
    ['no closed week yet', 'visitors', {}, { weeksThrough: null }, 'visitor-counts', { weeks: [] }],
    [
      'cities (the city tuple)',
      'visitors',
      { dimensions: ['country', 'city', 'region'] },
      {},
      'visitor-counts',
      { key: 'place' },
    ],
    // The city breakdown (`/data/cities`): the place's count rows, whatever the order of its dimensions.
    [
      'cities, 30 days: closed weeks as week rows',
      'visitors',
      { dimensions: ['city', 'region', 'country'] },
      {},
      'visitor-counts',
      { key: 'place', weeks: ['2024-05-06', '2024-05-13'] },
    ],
    [
      'cities with live traffic today: a raw tail',
      'visitors',
      { dimensions: ['city', 'region', 'country'] },
      { unsettledHitDays: days('2024-05-30') },
      'visitor-counts',
      { key: 'place', tail: '2024-05-30' },
    ],
    [
      'cities per week',
      'visitors',
      { dimensions: ['city', 'region', 'country'], interval: 'week' },
      {},
      'visitor-counts',
      { key: 'place', weeks: [] },
    ],
    [
      'cities page views (bot share): no hit-count set, the place counts',
      'hit-counts',
      { dimensions: ['city', 'region', 'country'] },
      {},
      'visitor-counts',
      { key: 'place', weeks: ['2024-05-06', '2024-05-13'] },
    ],
    [
      'cities page views per hour: no counts per hour',
      'hit-counts',
      { dimensions: ['city', 'region', 'country'], interval: 'hour' },
      {},
      'raw',
    ],
    [
      'cities page views with an old unsettled day: visitor rows',
      'hit-counts',
      { dimensions: ['city', 'region', 'country'] },
      { unsettledHitDays: days('2024-05-10') },
      'visitor-rows',
    ],
    [
      'cities of one country: the visitor set',
      'visitors',
      { dimensions: ['city', 'region', 'country'], filters: [is('country', 'DE')] },
      {},
      'visitor-rows',
    ],
    ['cities per hour', 'visitors', { dimensions: ['city', 'region', 'country'], interval: 'hour' }, {}, 'raw'],
    ['a city without its region and country', 'visitors', { dimensions: ['city'] }, {}, 'visitor-rows'],
    ['pages', 'visitors', { dimensions: ['page'] }, {}, 'visitor-counts', { key: 'page' }],
    [
      'live traffic on the last day: a raw tail',
      'visitors',
      {},
      { unsettledHitDays: days('2024-05-30') },
      'visitor-counts',
      { tail: '2024-05-30' },
    ],
    [
      'an old unsettled day: visitor rows',
      'visitors',
      {},
      { unsettledHitDays: days('2024-05-10') },
      'visitor-rows',
      { rawDays: ['2024-05-10'] },
    ],
    [
      'a filter: the visitor set',
      'visitors',
      { filters: [is('country', 'DE')] },
      {},
      'visitor-rows',
      { set: 'visitor' },
    ],
    [
      'browser breakdown: the visitor set',
      'visitors',
      { dimensions: ['browser'] },
      {},
      'visitor-rows',
      { set: 'visitor' },
    ],
    [
      'page by device: the full rows',
      'visitors',
      { dimensions: ['page'], filters: [is('device', 'mobile')] },
      {},
      'visitor-rows',
      { set: undefined },
    ],
    // The traffic source is the visit's: its own count rows, kept from the visits' contributions.
    ['source breakdown', 'visitors', { dimensions: ['source'] }, {}, 'visitor-counts', { key: 'source' }],
    ['UTM campaigns', 'visitors', { dimensions: ['utm_campaign'] }, {}, 'visitor-counts', { key: 'utm_campaign' }],
    ['entry pages', 'visitors', { dimensions: ['entry_page'] }, {}, 'visitor-counts', { key: 'entry_page' }],
    ['referrers per week', 'visitors', { dimensions: ['referrer'], interval: 'week' }, {}, 'visitor-counts'],
    ['source counts (bot share)', 'hit-counts', { dimensions: ['utm_term'] }, {}, 'visitor-counts'],
    ['page by source', 'hit-counts', { dimensions: ['page'], filters: [is('source', 'Google')] }, {}, 'raw'],
    [
      'an overview of one source: its group of the source counts',
      'visitors',
      { filters: [is('source', 'Google')], interval: 'day' },
      {},
      'visitor-counts',
      { key: 'source', select: { dimension: 'source', value: 'Google' } },
    ],
    [
      'visits of one campaign',
      'visits',
      { filters: [is('utm_campaign', 'march')] },
      {},
      'visit-sources',
      { select: { dimension: 'utm_campaign', value: 'march' } },
    ],
    [
      'two sources (a visitor of both counts once): raw',
      'visitors',
      { filters: [{ operator: 'is', dimension: 'source', values: ['Google', 'Bing'] }] },
      {},
      'raw',
    ],
    ['a source not matching: raw', 'visitors', { filters: [{ ...is('source', 'x'), operator: 'is_not' }] }, {}, 'raw'],
    ['one source and one country: raw', 'visitors', { filters: [is('source', 'x'), is('country', 'DE')] }, {}, 'raw'],
    ['a filtered source breakdown', 'visitors', { dimensions: ['source'], filters: [is('page', '/')] }, {}, 'raw'],
    ['source by country', 'visitors', { dimensions: ['source', 'country'] }, {}, 'raw'],
    ['sources per hour', 'visitors', { dimensions: ['source'], interval: 'hour' }, {}, 'raw'],
    [
      'sources with live traffic: the days of its visits as a raw tail',
      'visitors',
      { dimensions: ['source'] },
      { unsettledHitDays: days('2024-05-30'), unsettledAttributionDays: days('2024-05-29', '2024-05-30') },
      'visitor-counts',
      { key: 'source', tail: '2024-05-29' },
    ],
    [
      'sources with an older visit unsettled (a late hit): raw',
      'visitors',
      { dimensions: ['source'] },
      { unsettledHitDays: days('2024-05-30'), unsettledAttributionDays: days('2024-05-20', '2024-05-30') },
      'raw',
    ],
    [
      'sources with unsettled days after the range',
      'visitors',
      { dimensions: ['source'] },
      { unsettledAttributionDays: days('2024-06-01') },
      'visitor-counts',
      { key: 'source', tail: undefined },
    ],
    [
      'source facts not gathered',
      'visitors',
      { dimensions: ['source'] },
      { unsettledAttributionDays: undefined },
      'raw',
    ],
    ['hourly visitors', 'visitors', { interval: 'hour' }, {}, 'raw'],
    [
      'unsettled days outside the range are not read raw',
      'visitors',
      { dimensions: ['os'] },
      { unsettledHitDays: days('2024-06-02') },
      'visitor-rows',
      { rawDays: [] },
    ],
    // Hit counts without visitors.
    ['page views per day', 'hit-counts', { interval: 'day' }, {}, 'hit-counts', { set: 'total', daily: true }],
    ['page views per hour', 'hit-counts', { interval: 'hour' }, {}, 'hit-counts', { set: 'total', daily: false }],
    [
      'top pages per hour',
      'hit-counts',
      { interval: 'hour', dimensions: ['page'] },
      {},
      'hit-counts',
      { set: 'page', daily: false },
    ],
    ['browser counts: visitor rows', 'hit-counts', { dimensions: ['browser'] }, {}, 'visitor-rows', { set: 'visitor' }],
    ['hourly browser counts', 'hit-counts', { interval: 'hour', dimensions: ['browser'] }, {}, 'raw'],
    // Visits.
    [
      'visit totals',
      'visits',
      { interval: 'month' },
      { unsettledVisitDays: days('2024-04-30', '2024-05-29') },
      'visit-hours',
      { rawDays: ['2024-05-29'] },
    ],
    ['visits per hour', 'visits', { interval: 'hour' }, {}, 'visit-hours', { rawDays: [] }],
    [
      'visits by source',
      'visits',
      { dimensions: ['source'] },
      { unsettledVisitDays: days('2024-05-29') },
      'visit-sources',
      { rawDays: ['2024-05-29'] },
    ],
    ['visits by entry page per hour', 'visits', { dimensions: ['entry_page'], interval: 'hour' }, {}, 'raw'],
    ['visits by source and page', 'visits', { dimensions: ['source', 'page'] }, {}, 'raw'],
    ['visits with a filter', 'visits', { filters: [is('page', '/')] }, {}, 'raw'],
    ['visit facts not gathered', 'visits', {}, { unsettledVisitDays: undefined }, 'raw'],
    // User stats are all-time: every unsettled day is read raw.
    [
      'user stats',
      'user-stats',
      {},
      { unsettledHitDays: days('2024-04-02', '2024-05-30') },
      'user-stats-rows',
      { rawDays: ['2024-04-02', '2024-05-30'] },
    ],
    // A need this version does not know (engagement metrics) is read raw.
    ['an unknown need', 'engagement' as SourceNeed, {}, {}, 'raw'],
  ];

/** The parts of a plan a reader cares about, with day slices as their labels. */
function detail(plan: ReturnType<typeof planSource>): Record<string, unknown> {
  const labels = (slices: DaySlice[]) => slices.map((slice) => slice.day);
  switch (plan.source) {
    case 'visitor-counts':
      return {
        key: plan.coverage.key.name,
        weeks: plan.coverage.weeks,
        tail: plan.coverage.tail?.day,
        select: plan.select,
      };
    case 'hit-counts':
      return { set: plan.coverage.set, daily: plan.coverage.daily, rawDays: labels(plan.coverage.rawDays) };
    case 'visitor-rows':
      return { set: plan.coverage.set, rawDays: labels(plan.coverage.rawDays) };
    case 'visit-hours':
      return { rawDays: labels(plan.coverage.rawDays) };
    case 'visit-sources':
      return { rawDays: labels(plan.coverage.rawDays), select: plan.select };
    case 'user-stats-rows':
      return { rawDays: labels(plan.rawDays) };
    case 'raw':
      return {};
  }
}

describe('planSource: which stored data answers a read', () => {
  it.each(TABLE)('%s', (_name, need, change, facts, source, expected = {}) => {
    const plan = planSource(need, { ...base, ...change }, { ...settled, ...facts });
    expect(plan.source).toBe(source);
    expect(detail(plan)).toMatchObject(expected);
  });

  it('always lists raw hits last, as the fallback every read has', () => {
    for (const [, need, change, facts] of TABLE) {
      const candidates = sourceCandidates(need, { ...base, ...change }, { ...settled, ...facts });
      expect(candidates[candidates.length - 1]).toEqual({ source: 'raw' });
    }
  });

  it('falls back from the counts to the visitor rows to raw hits for visitors', () => {
    const sources = sourceCandidates('visitors', { ...base, dimensions: ['country'] }, settled).map(
      (plan) => plan.source,
    );
    expect(sources).toEqual(['visitor-counts', 'visitor-rows', 'raw']);
  });
});

/** [case, query changes, selection changes, facts changes, expected source, expected days read] */
const CONVERSION_TABLE: Array<
  [
    string,
    Partial<StatsQuery>,
    Partial<ConversionSelection>,
    Partial<RollupFacts & { readyGoals: ReadonlySet<string>; readyGoalValues: ReadonlySet<string> }>,
    string,
    Record<string, unknown>?,
  ]
> = [
  ['goal breakdown, settled', {}, {}, {}, 'goal-counts', { fromDay: '2024-05-01', settledEnd: '2024-05-30' }],
  [
    'live traffic on the last day: a raw tail',
    {},
    {},
    { unsettledHitDays: days('2024-05-30') },
    'goal-counts',
    { settledEnd: '2024-05-29', tail: '2024-05-30' },
  ],
  ['an old unsettled day', {}, {}, { unsettledHitDays: days('2024-05-10') }, 'raw'],
  [
    'unsettled days outside the range',
    {},
    {},
    { unsettledHitDays: days('2024-06-02') },
    'goal-counts',
    { settledEnd: '2024-05-30' },
  ],
  ['rows built in another zone or awaiting a rebuild', {}, {}, { usable: false }, 'raw'],
  ['a goal whose rows are not backfilled yet', {}, {}, { readyGoals: new Set(['g1']) }, 'raw'],
  ['one goal named without the goal dimension', {}, { goalIds: ['g1'], byGoal: false }, {}, 'goal-counts'],
  // A hit matching two of the goals counts once without the goal dimension: per-goal rows cannot say.
  ['two goals without the goal dimension', {}, { byGoal: false }, {}, 'raw'],
  ['no goal selected', {}, { goalIds: [] }, {}, 'raw'],
  [
    'one goal by country: the value rows',
    { dimensions: ['country'] },
    { goalIds: ['g1'], byGoal: false },
    {},
    'goal-value-counts',
    { dimension: 'country', fromDay: '2024-05-01', settledEnd: '2024-05-30' },
  ],
  ['goals by page', { dimensions: ['page'] }, {}, {}, 'goal-value-counts', { dimension: 'page' }],
  [
    'by device, live traffic on the last day: a raw tail',
    { dimensions: ['device'] },
    {},
    { unsettledHitDays: days('2024-05-30') },
    'goal-value-counts',
    { dimension: 'device', settledEnd: '2024-05-29', tail: '2024-05-30' },
  ],
  [
    'by country, a goal whose value rows are not built (rows of an older version)',
    { dimensions: ['country'] },
    {},
    { readyGoalValues: new Set(['g1']) },
    'raw',
  ],
  // A visit-level dimension changes when late hits merge visits: no value rows.
  ['by source', { dimensions: ['source'] }, {}, {}, 'raw'],
  ['two dimensions', { dimensions: ['country', 'page'] }, {}, {}, 'raw'],
  ['by country with a filter', { dimensions: ['country'], filters: [is('page', '/')] }, {}, {}, 'raw'],
  ['by country per day', { dimensions: ['country'], interval: 'day' }, {}, {}, 'raw'],
  ['by country, two goals without the goal dimension', { dimensions: ['country'] }, { byGoal: false }, {}, 'raw'],
  ['a filter besides the goal', { filters: [is('page', '/')] }, {}, {}, 'raw'],
  ['per day', { interval: 'day' }, {}, {}, 'raw'],
  ['a behavioural filter', { visitorKeys: { only: ['v'] } }, {}, {}, 'raw'],
  ['humans and bots together', { classification: 'ALL' }, {}, {}, 'raw'],
  ['bots alone', { classification: 'BOT' }, {}, {}, 'goal-counts'],
];

describe('conversionSourceCandidates: which stored data answers a goal query', () => {
  const selection: ConversionSelection = { goalIds: ['g1', 'g2'], byGoal: true };
  const ready = { ...settled, readyGoals: new Set(['g1', 'g2']), readyGoalValues: new Set(['g1', 'g2']) };

  it.each(CONVERSION_TABLE)('%s', (_name, change, chosen, facts, source, expected = {}) => {
    const candidates = conversionSourceCandidates(
      { ...base, ...change },
      { ...selection, ...chosen },
      {
        ...ready,
        ...facts,
      },
    );
    const plan = candidates[0];
    expect(plan.source).toBe(source);
    if (plan.source === 'goal-counts')
      expect({ fromDay: plan.fromDay, settledEnd: plan.settledEnd, tail: plan.tail?.day }).toMatchObject(expected);
    if (plan.source === 'goal-value-counts')
      expect({
        dimension: plan.dimension,
        fromDay: plan.fromDay,
        settledEnd: plan.settledEnd,
        tail: plan.tail?.day,
      }).toMatchObject(expected);
    expect(candidates[candidates.length - 1]).toEqual({ source: 'raw' });
  });
});

/** [case, query changes, facts changes, expected source, expected settled end and tail day] */
const FUNNEL_TABLE: Array<
  [string, Partial<StatsQuery>, Partial<RollupFacts & { funnelReady: boolean }>, string, string[]]
> = [
  ['whole settled days, no filter', {}, {}, 'funnel-rows', ['2024-05-30']],
  [
    'one day',
    { start: new Date('2024-05-04T00:00:00Z'), end: new Date('2024-05-05T00:00:00Z') },
    {},
    'funnel-rows',
    ['2024-05-04'],
  ],
  ['bots', { classification: 'BOT' }, {}, 'funnel-rows', ['2024-05-30']],
  ['funnel rows not backfilled (or its steps changed)', {}, { funnelReady: false }, 'raw', []],
  ['site rows unusable', {}, { usable: false }, 'raw', []],
  ['a hit filter (a segment is filters)', { filters: [is('page', '/pricing')] }, {}, 'raw', []],
  ['a visit filter', { filters: [is('entry_page', '/')] }, {}, 'raw', []],
  ['humans and bots together', { classification: 'ALL' }, {}, 'raw', []],
  ['has_done (visitor keys)', { visitorKeys: { only: ['v1'] } }, {}, 'raw', []],
  ['a range starting mid-day', { start: new Date('2024-05-01T06:00:00Z') }, {}, 'raw', []],
  ['a range ending mid-day (realtime)', { end: new Date('2024-05-30T12:00:00Z') }, {}, 'raw', []],
  [
    'an unsettled day inside the range, older than its last two',
    {},
    { unsettledHitDays: days('2024-05-12') },
    'raw',
    [],
  ],
  [
    'live traffic: the last day unsettled, read raw as a tail',
    {},
    { unsettledHitDays: days('2024-05-30') },
    'funnel-rows',
    ['2024-05-29', '2024-05-30'],
  ],
  [
    'the last two days unsettled',
    {},
    { unsettledHitDays: days('2024-05-29', '2024-05-30') },
    'funnel-rows',
    ['2024-05-28', '2024-05-29'],
  ],
  [
    'unsettled days only outside the range',
    {},
    { unsettledHitDays: days('2024-04-30', '2024-05-31') },
    'funnel-rows',
    ['2024-05-30'],
  ],
];

describe('funnelSourceCandidates: which stored data answers a saved funnel', () => {
  it.each(FUNNEL_TABLE)('%s', (_name, change, facts, source, expected) => {
    const candidates = funnelSourceCandidates({ ...base, ...change }, { ...settled, funnelReady: true, ...facts });
    const plan = candidates[0];
    expect(plan.source).toBe(source);
    if (plan.source === 'funnel-rows') {
      expect(plan.fromDay).toBe(change.start ? change.start.toISOString().slice(0, 10) : '2024-05-01');
      expect([plan.settledEnd, plan.tail?.day]).toEqual([expected[0], expected[1]]);
    }
    expect(candidates[candidates.length - 1]).toEqual({ source: 'raw' });
  });
});

/** [case, query changes, facts changes, expected source, expected settled end and tail day] */
const BEHAVIOUR_TABLE: Array<
  [string, Partial<StatsQuery>, Partial<RollupFacts & { readyGoals: ReadonlySet<string> }>, string, string[]]
> = [
  ['whole settled days', {}, {}, 'goal-members', ['2024-05-30']],
  // A behavioural filter looks at the range and classification only.
  [
    'with filters, dimensions and an interval',
    { filters: [is('page', '/')], dimensions: ['source'], interval: 'day' },
    {},
    'goal-members',
    ['2024-05-30'],
  ],
  ['humans and bots together', { classification: 'ALL' }, {}, 'goal-members', ['2024-05-30']],
  ['a goal without rows yet', {}, { readyGoals: new Set(['g1']) }, 'raw', []],
  ['site rows unusable', {}, { usable: false }, 'raw', []],
  ['a range starting mid-day', { start: new Date('2024-05-01T06:00:00Z') }, {}, 'raw', []],
  ['a range ending mid-day (realtime)', { end: new Date('2024-05-30T12:00:00Z') }, {}, 'raw', []],
  ['an unsettled day older than the last two', {}, { unsettledHitDays: days('2024-05-12') }, 'raw', []],
  [
    'live traffic: the last day read raw as a tail',
    {},
    { unsettledHitDays: days('2024-05-30') },
    'goal-members',
    ['2024-05-29', '2024-05-30'],
  ],
];

describe('behaviourSourceCandidates: which stored data says who has_done a goal', () => {
  it.each(BEHAVIOUR_TABLE)('%s', (_name, change, facts, source, expected) => {
    const candidates = behaviourSourceCandidates({ ...base, ...change }, ['g1', 'g2'], {
      ...settled,
      readyGoals: new Set(['g1', 'g2']),
      ...facts,
    });
    const plan = candidates[0];
    expect(plan.source).toBe(source);
    if (plan.source === 'goal-members') {
      expect(plan.fromDay).toBe('2024-05-01');
      expect([plan.settledEnd, plan.tail?.day]).toEqual([expected[0], expected[1]]);
    }
    expect(candidates[candidates.length - 1]).toEqual({ source: 'raw' });
  });
});
