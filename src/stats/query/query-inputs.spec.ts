import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from '@jest/globals';
import { parseDayRange, periodRange, previousRange } from './date-range.js';
import { deriveMetrics, percentChange } from './derive-metrics.js';
import { parseFilters, parseFiltersParameter } from './parse-filters.js';

const names = { from: 'start_date', to: 'end_date' };
const message = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof BadRequestException) return error.message;
    throw error;
  }
  throw new Error('expected a 400');
};

describe('date ranges', () => {
  it('refuses start after end and more than ten years, naming the parameter', () => {
    expect(message(() => parseDayRange('2024-02-13', '2024-02-10', names))).toContain('start_date');
    expect(message(() => parseDayRange('2014-01-01', '2024-01-01', names))).toContain('end_date');
    expect(parseDayRange('2014-01-01', '2023-12-31', names).to).toEqual({ year: 2023, month: 12, day: 31 });
  });

  it('resolves periods against today in the site zone, today included', () => {
    // 2024-02-15T03:00Z is still Feb 14 in New York
    const now = new Date('2024-02-15T03:00:00Z');
    expect(periodRange('day', now, 'America/New_York')).toEqual({
      from: { year: 2024, month: 2, day: 14 },
      to: { year: 2024, month: 2, day: 14 },
    });
    expect(periodRange('7d', now, 'UTC')).toEqual({
      from: { year: 2024, month: 2, day: 9 },
      to: { year: 2024, month: 2, day: 15 },
    });
    expect(periodRange('month', now, 'UTC').from).toEqual({ year: 2024, month: 2, day: 1 });
    expect(periodRange('6mo', now, 'UTC').from).toEqual({ year: 2023, month: 9, day: 1 });
    expect(periodRange('12mo', now, 'UTC').from).toEqual({ year: 2023, month: 3, day: 1 });
  });

  it('compares with the same number of days right before', () => {
    expect(previousRange({ from: { year: 2024, month: 3, day: 1 }, to: { year: 2024, month: 3, day: 31 } })).toEqual({
      from: { year: 2024, month: 1, day: 30 },
      to: { year: 2024, month: 2, day: 29 },
    });
  });
});

describe('filters as data', () => {
  it('accepts allow-listed operators and dimensions, numbers become strings, aliases resolve', () => {
    expect(
      parseFilters([
        ['is', 'country', ['DE', 'FR']],
        ['contains', 'event', 'sign'],
        ['is_not', 'page', [404]],
      ]),
    ).toEqual([
      { operator: 'is', dimension: 'country', values: ['DE', 'FR'] },
      { operator: 'contains', dimension: 'event_name', values: ['sign'] },
      { operator: 'is_not', dimension: 'page', values: ['404'] },
    ]);
  });

  it.each([
    [[['is', 'country', [{ $ne: null }]]], 'filters[0] values'],
    [[['$in', 'country', ['DE']]], 'filters[0] operator'],
    [[['is', 'siteId', ['x']]], 'filters[0] dimension'],
    [[['is', 'country']], 'filters[0] must be'],
    [[['is', 'country', []]], 'filters[0] values'],
    [{ country: 'DE' }, 'filters must be an array'],
  ])('refuses %j', (input, expected) => {
    expect(message(() => parseFilters(input))).toContain(expected);
  });

  it('reads the GET form as JSON, goal and behavioural filters sorted out', () => {
    expect(parseFiltersParameter('[["is","city",["Paris"]]]')).toEqual({
      filters: [{ operator: 'is', dimension: 'city', values: ['Paris'] }],
      goalNames: [],
      behaviours: [],
    });
    expect(
      parseFiltersParameter('[["has_not_done","goal",["Signup"]],["is","page","/"],["contains","goal",["sign"]]]'),
    ).toEqual({
      filters: [{ operator: 'is', dimension: 'page', values: ['/'] }],
      goalNames: [{ operator: 'contains', names: ['sign'] }],
      behaviours: [{ operator: 'has_not_done', names: ['Signup'] }],
    });
    expect(message(() => parseFiltersParameter('[["is","page","/"],["has_done","page",["/"]]]'))).toBe(
      'filters[1]: has_done applies to goal only',
    );
    expect(message(() => parseFiltersParameter('country==DE'))).toContain('filters');
  });
});

describe('metric definitions', () => {
  it('derives ratios from sums and rounds them as documented', () => {
    const hits = { visitors: 5, pageviews: 10, events: 11, botHits: 0 };
    const visits = { visits: 6, bounces: 3, durationSeconds: 4800, visitPageviews: 10 };
    const all = { visitors: 6, pageviews: 12, events: 13, botHits: 2 };
    expect(
      deriveMetrics(
        ['visitors', 'visits', 'viewsPerVisit', 'bounceRate', 'visitDuration', 'botShare'],
        hits,
        visits,
        all,
      ),
    ).toEqual({
      visitors: 5,
      visits: 6,
      viewsPerVisit: 1.67,
      bounceRate: 50,
      visitDuration: 800,
      botShare: 15.4,
    });
    expect(deriveMetrics(['bounceRate', 'visitDuration'], undefined, undefined, undefined)).toEqual({
      bounceRate: 0,
      visitDuration: 0,
    });
  });

  it('gives no percent change from zero', () => {
    expect(percentChange(5, 0)).toBeNull();
    expect(percentChange(3, 4)).toBe(-25);
  });
});
