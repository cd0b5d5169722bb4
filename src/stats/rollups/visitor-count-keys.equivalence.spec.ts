import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  ATTRIBUTION_COUNT_KEYS,
  VISITOR_COUNT_KEYS,
  VISITOR_COUNT_SCOPES,
  addHitDeltas,
  addMembershipDeltas,
  addVisitorCounts,
  dayBucketLabel,
  keyValues,
  tallyDifference,
  type CountDelta,
  type CountDeltaTally,
  type CountUnit,
  type VisitorCountKey,
  type VisitorCountScope,
  type VisitorCountTally,
  type VisitorSetSample,
} from './visitor-count-keys.js';

/*
 * The counting functions gather a history once per key for every scope and unit, and group values
 * by a length-prefixed text. This pins them to the plain form they replaced (one pass per key,
 * scope and unit, values grouped by JSON.stringify), kept here as the reference: same rows, same
 * contents, in the same order, on random histories whose values are chosen to collide if the
 * grouping text were ambiguous.
 */

const label = (unit: CountUnit, day: string) => (unit === 'day' ? day : dayBucketLabel(day, 'week'));
const inScope = (scope: VisitorCountScope, classification: string) => scope === 'ALL' || scope === classification;

function referenceVisitorCounts(
  rows: readonly VisitorSetSample[],
  keys: readonly VisitorCountKey[],
  unit: CountUnit,
  only: ReadonlySet<string> | 'all',
  tally: VisitorCountTally,
): void {
  for (const key of keys)
    for (const scope of VISITOR_COUNT_SCOPES) {
      const byValue = new Map<
        string,
        {
          values: Record<string, string | null>;
          days: Map<string, { pageviews: number; events: number; botHits: number }>;
        }
      >();
      for (const row of rows) {
        if (!inScope(scope, row.classification)) continue;
        const values = keyValues(key, row);
        const id = JSON.stringify(values);
        const entry = byValue.get(id) ?? { values, days: new Map() };
        byValue.set(id, entry);
        const sums = entry.days.get(row.day) ?? { pageviews: 0, events: 0, botHits: 0 };
        entry.days.set(row.day, sums);
        sums.pageviews += row.pageviews;
        sums.events += row.events;
        if (row.classification === 'BOT') sums.botHits += row.events;
      }
      for (const [id, { values, days }] of byValue) {
        const sorted = [...days.keys()].sort();
        sorted.forEach((day, index) => {
          const unitLabel = label(unit, day);
          if (only !== 'all' && !only.has(unitLabel)) return;
          const rowId = JSON.stringify([key.name, scope, id, unit, unitLabel]);
          const entry = tally.get(rowId) ?? {
            count: {
              key: key.name,
              scope,
              values,
              unit,
              day: unitLabel,
              fresh: 0,
              pageviews: 0,
              events: 0,
              botHits: 0,
            },
            returning: new Map<string, number>(),
          };
          tally.set(rowId, entry);
          const sums = days.get(day)!;
          entry.count.pageviews += sums.pageviews;
          entry.count.events += sums.events;
          entry.count.botHits += sums.botHits;
          const previous = index > 0 ? sorted[index - 1] : undefined;
          if (previous === undefined) entry.count.fresh += 1;
          else if (label(unit, previous) !== unitLabel)
            entry.returning.set(previous, (entry.returning.get(previous) ?? 0) + 1);
        });
      }
    }
}

function referenceDelta(
  tally: CountDeltaTally,
  key: string,
  scope: VisitorCountScope,
  values: Record<string, string | null>,
  unit: CountUnit,
  day: string,
): CountDelta {
  const id = JSON.stringify([key, scope, values, unit, day]);
  const delta = tally.get(id) ?? {
    ...{ key, scope, values, unit, day },
    ...{ fresh: 0, returning: new Map(), pageviews: 0, events: 0, botHits: 0 },
  };
  tally.set(id, delta);
  return delta;
}

function referenceEntries(sorted: readonly string[], unit: CountUnit): Map<string, string | null> {
  const entries = new Map<string, string | null>();
  sorted.forEach((day, index) => {
    if (!entries.has(label(unit, day))) entries.set(label(unit, day), index > 0 ? sorted[index - 1] : null);
  });
  return entries;
}

function referenceMembershipDeltas(
  rows: ReadonlyArray<VisitorSetSample & { firstBatch?: number }>,
  keys: readonly VisitorCountKey[],
  batch: number,
  unit: CountUnit,
  counted: (label: string) => boolean,
  tally: CountDeltaTally,
): void {
  for (const key of keys)
    for (const scope of VISITOR_COUNT_SCOPES) {
      const byValue = new Map<string, { values: Record<string, string | null>; days: Map<string, boolean> }>();
      for (const row of rows) {
        if (!inScope(scope, row.classification)) continue;
        const values = keyValues(key, row);
        const entry = byValue.get(JSON.stringify(values)) ?? { values, days: new Map() };
        byValue.set(JSON.stringify(values), entry);
        entry.days.set(row.day, (entry.days.get(row.day) ?? true) && row.firstBatch === batch);
      }
      for (const { values, days } of byValue.values()) {
        if (![...days.values()].some(Boolean)) continue;
        const all = [...days.keys()].sort();
        const before = referenceEntries(
          all.filter((day) => !days.get(day)),
          unit,
        );
        for (const [unitLabel, previous] of referenceEntries(all, unit)) {
          if (!counted(unitLabel)) continue;
          const old = before.has(unitLabel) ? before.get(unitLabel) : undefined;
          if (old === previous) continue;
          const delta = referenceDelta(tally, key.name, scope, values, unit, unitLabel);
          if (old === null) delta.fresh -= 1;
          else if (old !== undefined) delta.returning.set(old, (delta.returning.get(old) ?? 0) - 1);
          if (previous === null) delta.fresh += 1;
          else delta.returning.set(previous, (delta.returning.get(previous) ?? 0) + 1);
        }
      }
    }
}

function referenceHitDeltas(
  hit: VisitorSetSample & { name: string },
  day: string,
  keys: readonly VisitorCountKey[],
  units: ReadonlyArray<{ unit: CountUnit; counted: (label: string) => boolean }>,
  tally: CountDeltaTally,
): void {
  for (const key of keys)
    for (const scope of VISITOR_COUNT_SCOPES) {
      if (!inScope(scope, hit.classification)) continue;
      for (const { unit, counted } of units) {
        if (!counted(label(unit, day))) continue;
        const delta = referenceDelta(tally, key.name, scope, keyValues(key, hit), unit, label(unit, day));
        delta.pageviews += hit.name === 'pageview' ? 1 : 0;
        delta.events += 1;
        if (hit.classification === 'BOT') delta.botHits += 1;
      }
    }
}

function referenceDifference(
  before: VisitorCountTally,
  after: VisitorCountTally,
  accepts: (unit: CountUnit, label: string) => boolean,
): CountDelta[] {
  const deltas: CountDelta[] = [];
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const [old, now] = [before.get(id), after.get(id)];
    const { key, scope, values, unit, day } = (now ?? old)!.count;
    if (!accepts(unit, day)) continue;
    const difference = (field: 'fresh' | 'pageviews' | 'events' | 'botHits') =>
      (now?.count[field] ?? 0) - (old?.count[field] ?? 0);
    const returning = new Map<string, number>();
    for (const [p, n] of now?.returning ?? []) returning.set(p, n);
    for (const [p, n] of old?.returning ?? []) returning.set(p, (returning.get(p) ?? 0) - n);
    for (const [p, n] of returning) if (n === 0) returning.delete(p);
    const delta = {
      ...{ key, scope, values, unit, day, fresh: difference('fresh'), returning },
      ...{ pageviews: difference('pageviews'), events: difference('events'), botHits: difference('botHits') },
    };
    if (delta.fresh !== 0 || returning.size > 0 || delta.pageviews !== 0 || delta.events !== 0 || delta.botHits !== 0)
      deltas.push(delta);
  }
  return deltas;
}

/** Values that would group together if the grouping text ran one value into the next. */
const value = fc.constantFrom<string | null | undefined>(
  null,
  undefined,
  '',
  '-',
  '1:',
  '1:-',
  ':',
  'a',
  '1:a',
  'DE',
  '\u0000',
);
const days = ['2024-04-28', '2024-04-29', '2024-05-01', '2024-05-05', '2024-05-06', '2024-05-13'];
const sample = fc.record({
  visitorKey: fc.constant('v'),
  day: fc.constantFrom(...days),
  classification: fc.constantFrom('USER', 'BOT', 'SUSPECT'),
  pageviews: fc.nat(3),
  events: fc.nat(4),
  firstBatch: fc.constantFrom(1, 2),
  name: fc.constantFrom('pageview', 'click'),
  countryCode: value,
  city: value,
  region: value,
  networkDomain: value,
  path: value,
  source: value,
  referrer: value,
  utmSource: value,
  entryPath: value,
});
const history = fc.array(sample, { maxLength: 14 });
const histories = fc.array(history, { maxLength: 4 });

/** A tally's rows in order, returning entries included, without the tally's internal ids. */
const rowsOf = (tally: ReadonlyMap<unknown, unknown>) =>
  JSON.stringify([...tally.values()], (_, entry: unknown) => (entry instanceof Map ? [...entry] : entry));
const keys = [...VISITOR_COUNT_KEYS, ...ATTRIBUTION_COUNT_KEYS];
const counted = (unitLabel: string) => unitLabel !== '2024-05-06';

describe('visitor counting, gathered once per key', () => {
  it('counts every key, scope and unit as one pass per key, scope and unit did', () => {
    fc.assert(
      fc.property(
        histories,
        fc.constantFrom<ReadonlySet<string> | 'all'>('all', new Set(['2024-04-29'])),
        (all, only) => {
          const [day, week, referenceDay, referenceWeek] = [
            new Map(),
            new Map(),
            new Map(),
            new Map(),
          ] as VisitorCountTally[];
          for (const rows of all) {
            addVisitorCounts(rows, keys, [
              { unit: 'day', only, tally: day },
              { unit: 'week', only, tally: week },
            ]);
            referenceVisitorCounts(rows, keys, 'day', only, referenceDay);
            referenceVisitorCounts(rows, keys, 'week', only, referenceWeek);
          }
          expect(rowsOf(day)).toBe(rowsOf(referenceDay));
          expect(rowsOf(week)).toBe(rowsOf(referenceWeek));
        },
      ),
    );
  });

  it('tallies the hit and membership deltas of a batch as a call per unit with JSON-grouped values did', () => {
    fc.assert(
      fc.property(histories, fc.array(sample, { maxLength: 8 }), (all, hits) => {
        const units = [
          { unit: 'day' as const, counted: () => true },
          { unit: 'week' as const, counted },
        ];
        const [tally, reference] = [new Map(), new Map()] as CountDeltaTally[];
        for (const hit of hits) {
          addHitDeltas(hit, hit.name === 'pageview', hit.day, VISITOR_COUNT_KEYS, units, tally);
          referenceHitDeltas(hit, hit.day, VISITOR_COUNT_KEYS, units, reference);
        }
        for (const rows of all) {
          addMembershipDeltas(rows, VISITOR_COUNT_KEYS, 2, units, tally);
          for (const { unit, counted: accepts } of units)
            referenceMembershipDeltas(rows, VISITOR_COUNT_KEYS, 2, unit, accepts, reference);
        }
        expect(rowsOf(tally)).toBe(rowsOf(reference));
      }),
    );
  });

  it('takes the difference of two tallies as a walk over the union of their ids did', () => {
    fc.assert(
      fc.property(histories, histories, (old, now) => {
        const tallies = [new Map(), new Map(), new Map(), new Map()] as VisitorCountTally[];
        const [before, after, referenceBefore, referenceAfter] = tallies;
        for (const rows of old) {
          addVisitorCounts(rows, keys, [{ unit: 'week', only: 'all', tally: before }]);
          referenceVisitorCounts(rows, keys, 'week', 'all', referenceBefore);
        }
        for (const rows of now) {
          addVisitorCounts(rows, keys, [{ unit: 'week', only: 'all', tally: after }]);
          referenceVisitorCounts(rows, keys, 'week', 'all', referenceAfter);
        }
        const accepts = (_: CountUnit, unitLabel: string) => counted(unitLabel);
        expect(rowsOf(new Map(tallyDifference(before, after, accepts).entries()))).toBe(
          rowsOf(new Map(referenceDifference(referenceBefore, referenceAfter, accepts).entries())),
        );
      }),
    );
  });
});
