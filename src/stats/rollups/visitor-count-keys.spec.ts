import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  VISITOR_COUNT_KEYS,
  addVisitorCounts,
  closedWeeksThrough,
  dayBucketLabel,
  visitorCountKeyOf,
  visitorCountRows,
  weeksWithin,
  addMembershipDeltas,
  type CountDelta,
  type CountDeltaTally,
  type VisitorCount,
  type VisitorCountTally,
  type VisitorSetSample,
} from './visitor-count-keys.js';

const country = VISITOR_COUNT_KEYS.find((key) => key.name === 'country')!;
const row = (
  day: string,
  countryCode: string | null,
  classification = 'USER',
  city: string | null = null,
  pageviews = 1,
  events = 2,
): VisitorSetSample => ({ visitorKey: 'v', day, classification, countryCode, city, pageviews, events });

function countsOf(rows: VisitorSetSample[], days: ReadonlySet<string> | 'all'): unknown[] {
  const tally: VisitorCountTally = new Map();
  addVisitorCounts(rows, [country], [{ unit: 'day', only: days, tally }]);
  return visitorCountRows(tally)
    .map((count) => [count.scope, count.values.country, count.day, count.fresh, count.returning])
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** Visitors per count row (fresh, and returning by previous day), of units `counted` accepts, after adding `deltas`; zero entries dropped. */
function visitorsOf(
  counts: VisitorCount[],
  deltas: CountDelta[],
  counted: (label: string) => boolean,
): Record<string, Record<string, number>> {
  const rows: Record<string, Record<string, number>> = {};
  const add = (
    count: { key: string; scope: string; values: unknown; unit: string; day: string },
    p: string,
    n: number,
  ) => {
    if (!counted(count.day)) return;
    const id = JSON.stringify([count.key, count.scope, count.values, count.unit, count.day]);
    const entry = (rows[id] ??= {});
    entry[p] = (entry[p] ?? 0) + n;
    if (entry[p] === 0) delete entry[p];
    if (Object.keys(entry).length === 0) delete rows[id];
  };
  for (const count of counts) {
    add(count, 'fresh', count.fresh);
    for (const { p, n } of count.returning) add(count, p, n);
  }
  for (const delta of deltas) {
    add(delta, 'fresh', delta.fresh);
    for (const [p, n] of delta.returning) add(delta, p, n);
  }
  return rows;
}

describe('visitor counts', () => {
  it('counts a visitor once per day and value, with the previous active day of that value and scope', () => {
    const rows = [
      // Two rows on the 1st with the same country (the city differs): one visitor-day.
      row('2024-05-01', 'DE', 'USER', 'Berlin'),
      row('2024-05-01', 'DE', 'USER', 'Hamburg'),
      row('2024-05-03', 'FR', 'BOT'),
      row('2024-05-04', 'DE', 'BOT'),
    ];
    expect(countsOf(rows, 'all')).toEqual([
      ['ALL', 'DE', '2024-05-01', 1, []],
      ['ALL', 'DE', '2024-05-04', 0, [{ p: '2024-05-01', n: 1 }]],
      ['ALL', 'FR', '2024-05-03', 1, []],
      ['BOT', 'DE', '2024-05-04', 1, []],
      ['BOT', 'FR', '2024-05-03', 1, []],
      ['USER', 'DE', '2024-05-01', 1, []],
    ]);
    expect(countsOf(rows, new Set(['2024-05-04']))).toEqual([
      ['ALL', 'DE', '2024-05-04', 0, [{ p: '2024-05-01', n: 1 }]],
      ['BOT', 'DE', '2024-05-04', 1, []],
    ]);
  });

  it('sums the hits of every row of a day, scope and value, bot hits apart', () => {
    const rows = [
      row('2024-05-01', 'DE', 'USER', 'Berlin', 2, 3),
      row('2024-05-01', 'DE', 'USER', 'Hamburg', 1, 1),
      row('2024-05-01', 'DE', 'BOT', null, 0, 5),
      row('2024-05-02', 'DE', 'USER', null, 4, 4),
    ];
    const tally: VisitorCountTally = new Map();
    addVisitorCounts(rows, [country], [{ unit: 'day', only: 'all', tally }]);
    const sums = visitorCountRows(tally)
      .map((count) => [count.scope, count.day, count.pageviews, count.events, count.botHits])
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    expect(sums).toEqual([
      ['ALL', '2024-05-01', 3, 9, 5],
      ['ALL', '2024-05-02', 4, 4, 0],
      ['BOT', '2024-05-01', 0, 5, 5],
      ['USER', '2024-05-01', 3, 4, 0],
      ['USER', '2024-05-02', 4, 4, 0],
    ]);
  });

  it('counts a visitor once per week, on its first active day there, returning from the day before it', () => {
    const rows = [
      // Monday 29 April and Friday 3 May are one week; Tuesday 7 May the next.
      row('2024-04-25', 'DE'),
      row('2024-04-29', 'DE', 'USER', null, 1, 1),
      row('2024-05-03', 'DE', 'USER', null, 2, 5),
      row('2024-05-07', 'DE', 'USER', null, 3, 3),
    ];
    const tally: VisitorCountTally = new Map();
    addVisitorCounts(rows, [country], [{ unit: 'week', only: new Set(['2024-04-29', '2024-05-06']), tally }]);
    const weeks = visitorCountRows(tally)
      .filter((count) => count.scope === 'USER')
      .map((count) => [count.unit, count.day, count.fresh, count.returning, count.pageviews, count.events])
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    expect(weeks).toEqual([
      ['week', '2024-04-29', 0, [{ p: '2024-04-25', n: 1 }], 3, 6],
      ['week', '2024-05-06', 0, [{ p: '2024-05-03', n: 1 }], 3, 3],
    ]);
  });

  it('lists the weeks lying wholly within a range of days', () => {
    // Wednesday 1 May to Tuesday 21 May 2024: the weeks of 6 and 13 May.
    expect(weeksWithin('2024-05-01', '2024-05-21')).toEqual(['2024-05-06', '2024-05-13']);
    expect(weeksWithin('2024-05-06', '2024-05-12')).toEqual(['2024-05-06']);
    expect(weeksWithin('2024-05-06', '2024-05-11')).toEqual([]);
  });

  it('closes a week on the Monday after its Sunday', () => {
    // Sunday 12 May 2024: still open that day, closed on Monday the 13th.
    expect(closedWeeksThrough('2024-05-12')).toBe('2024-05-05');
    expect(closedWeeksThrough('2024-05-13')).toBe('2024-05-12');
    expect(closedWeeksThrough('2024-05-14')).toBe('2024-05-12');
    expect(closedWeeksThrough('2024-05-19')).toBe('2024-05-12');
    expect(closedWeeksThrough('2024-05-20')).toBe('2024-05-19');
  });

  it('turns a visitor history into the counts of its history plus the new days by previous-active-day deltas', () => {
    const days = ['2024-05-01', '2024-05-02', '2024-05-05', '2024-05-06', '2024-05-09', '2024-05-13', '2024-05-20'];
    const historyRow = fc.record({
      day: fc.constantFrom(...days),
      countryCode: fc.constantFrom('DE', 'FR', null),
      classification: fc.constantFrom('USER', 'BOT'),
      firstBatch: fc.constantFrom(1, 2, 3),
    });
    fc.assert(
      fc.property(fc.array(historyRow, { maxLength: 12 }), (specs) => {
        // The batch applied is 3: rows with an earlier `firstBatch` were there before it.
        const rows = specs.map(({ day, countryCode, classification, firstBatch }) => ({
          ...row(day, countryCode, classification),
          firstBatch,
        }));
        for (const unit of ['day', 'week'] as const) {
          const counted = (label: string) => label !== '2024-05-20';
          const before: VisitorCountTally = new Map();
          addVisitorCounts(
            rows.filter((entry) => entry.firstBatch < 3),
            VISITOR_COUNT_KEYS,
            [{ unit, only: 'all', tally: before }],
          );
          const deltas: CountDeltaTally = new Map();
          addMembershipDeltas(rows, VISITOR_COUNT_KEYS, 3, [{ unit, counted }], deltas);
          const after: VisitorCountTally = new Map();
          addVisitorCounts(rows, VISITOR_COUNT_KEYS, [{ unit, only: 'all', tally: after }]);
          expect(visitorsOf([...visitorCountRows(before)], [...deltas.values()], counted)).toEqual(
            visitorsOf(visitorCountRows(after), [], counted),
          );
        }
      }),
    );
  });

  it('matches a query to the key with exactly its dimensions, in any order', () => {
    expect(visitorCountKeyOf(['country', 'city', 'region'])?.name).toBe('place');
    expect(visitorCountKeyOf([])?.name).toBe('total');
    expect(visitorCountKeyOf(['city'])).toBeUndefined();
    expect(visitorCountKeyOf(['country', 'page'])).toBeUndefined();
  });

  it('labels a day with its bucket as the pipelines do (weeks from Monday)', () => {
    expect(dayBucketLabel('2024-05-01', 'week')).toBe('2024-04-29');
    expect(dayBucketLabel('2024-05-19', 'month')).toBe('2024-05-01');
    expect(dayBucketLabel('2024-05-19', 'day')).toBe('2024-05-19');
    expect(dayBucketLabel('2024-05-19', undefined)).toBe('');
  });
});
