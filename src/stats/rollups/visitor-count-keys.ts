import {
  formatCalendarDate,
  parseCalendarDate,
  shiftDay,
  startOfMonth,
  startOfWeek,
} from '../../common/time/calendar.js';
import { DIMENSION_SOURCES, type Dimension } from '../query/dimensions.js';
import type { Interval } from '../query/stats-query.js';
import { ATTRIBUTION_DIMENSIONS } from '../pipelines/rollup.pipeline.js';

/**
 * A visitor "count key": what a distinct-visitor query groups by (no dimension, one dimension, or
 * the city tuple `/data/cities` lists). The count rows carry the page views and hits of their values too, so a query
 * answered from them reads nothing that grows with traffic.
 */
export interface VisitorCountKey {
  name: string;
  dimensions: readonly Dimension[];
}

export const VISITOR_COUNT_KEYS: readonly VisitorCountKey[] = [
  { name: 'total', dimensions: [] },
  { name: 'country', dimensions: ['country'] },
  { name: 'place', dimensions: ['city', 'region', 'country'] },
  { name: 'network_domain', dimensions: ['network_domain'] },
  { name: 'page', dimensions: ['page'] },
];

/**
 * The count keys of the visit-level attribution dimensions (source, referrer, UTM, entry page):
 * counted like the others, from the visitors' visit contributions rather than their visitor-day
 * rows, since a visit's values can change after its hits were rolled up (see
 * VisitorCountsBuilder.applyVisitChanges).
 */
export const ATTRIBUTION_COUNT_KEYS: readonly VisitorCountKey[] = ATTRIBUTION_DIMENSIONS.map((dimension) => ({
  name: dimension,
  dimensions: [dimension],
}));

/** Classification scopes counted apart: a visitor with USER and BOT hits on a day is one `ALL` visitor-day. */
export const VISITOR_COUNT_SCOPES = ['USER', 'BOT', 'ALL'] as const;
export type VisitorCountScope = (typeof VISITOR_COUNT_SCOPES)[number];

/** The key whose dimensions are exactly the query's (in any order), if any. */
export function visitorCountKeyOf(dimensions: readonly Dimension[]): VisitorCountKey | undefined {
  const wanted = new Set(dimensions);
  if (wanted.size !== dimensions.length) return undefined;
  return [...VISITOR_COUNT_KEYS, ...ATTRIBUTION_COUNT_KEYS].find(
    (key) => key.dimensions.length === wanted.size && key.dimensions.every((dimension) => wanted.has(dimension)),
  );
}

/** A visitor-day row as the counts read it: the key fields under their hit names, with the row's hit counts. */
export interface VisitorSetSample {
  visitorKey: string;
  day: string;
  classification: string;
  pageviews: number;
  events: number;
  [field: string]: unknown;
}

/** Page views, all hits, and the hits that are BOT, of one count row. */
export interface CountSums {
  pageviews: number;
  events: number;
  botHits: number;
}

/** The key's values of a set row, keyed by dimension name (missing → null), as a group key. */
export function keyValues(key: VisitorCountKey, row: Record<string, unknown>): Record<string, string | null> {
  const values: Record<string, string | null> = {};
  for (const dimension of key.dimensions) {
    const value = row[DIMENSION_SOURCES[dimension].field];
    values[dimension] = typeof value === 'string' ? value : null;
  }
  return values;
}

/**
 * The key's values of a row as text telling them apart (as `keyValues` would be compared): each
 * value length-prefixed (`5:Paris`), a null as `-`, so no value can run into the next. The
 * tallies group by it: JSON.stringify of `keyValues` per row, key and scope made the grouping
 * (then `activeDaysByValue`) about 2% of the app's busy time in an app-cost profile; the group's
 * values object is now built once, from its first row.
 */
export function valueIdOf(key: VisitorCountKey, row: Record<string, unknown>): string {
  let id = '';
  for (const dimension of key.dimensions) {
    const value = row[DIMENSION_SOURCES[dimension].field];
    id += typeof value === 'string' ? `${value.length}:${value}` : '-';
  }
  return id;
}

export function inScope(scope: VisitorCountScope, classification: string): boolean {
  return scope === 'ALL' || scope === classification;
}

/**
 * What one count row covers: a local day, or a closed Monday-to-Sunday week (ADR 0003, "weekly
 * count rows"), so a month's list reads about four week rows per value and a few day rows.
 */
export type CountUnit = 'day' | 'week';

/** The label of the unit a `YYYY-MM-DD` day falls in: the day itself, or its week's Monday. */
export function unitLabel(unit: CountUnit, day: string): string {
  if (unit === 'day') return day;
  let monday = MONDAYS.get(day);
  if (monday === undefined) {
    if (MONDAYS.size >= MAX_MONDAYS) MONDAYS.clear();
    monday = dayBucketLabel(day, 'week');
    MONDAYS.set(day, monday);
  }
  return monday;
}

/**
 * Week labels already computed, by day: the counts ask for the week of every visitor-day of a
 * history, twice (its day and the previous one), where a date parse and format each time showed
 * in the counting's profile. A few years of days; cleared when full rather than kept in order (a
 * recount's days are a site's history).
 */
const MONDAYS = new Map<string, string>();
const MAX_MONDAYS = 4096;

/**
 * A week gets its count rows once its Sunday is this many days before the site's today, i.e. on
 * the Monday after it. A later hit of the week reaches its row by the same deltas as its day, so
 * closing early costs no exactness; closing a day later (on Tuesday) made every Monday read the
 * last week as seven day rows: a 30-day list read about twelve rows per value on Mondays instead
 * of six (docs/count-reads.md).
 */
export const WEEK_CLOSES_AFTER_DAYS = 1;

/** The Sunday ending the last week closed on `today` (WEEK_CLOSES_AFTER_DAYS). */
export function closedWeeksThrough(today: string): string {
  return shiftDay(unitLabel('week', shiftDay(today, -WEEK_CLOSES_AFTER_DAYS + 1)), -1);
}

/** The Mondays of the weeks lying wholly within the days `[first, last]`, in order. */
export function weeksWithin(first: string, last: string): string[] {
  const weeks: string[] = [];
  let monday = unitLabel('week', first);
  if (monday < first) monday = shiftDay(monday, 7);
  for (; shiftDay(monday, 6) <= last; monday = shiftDay(monday, 7)) weeks.push(monday);
  return weeks;
}

/**
 * One stored count row: the visitors active in the unit `day` labels (in one scope) with these
 * values, each counted on their first active day in it, as `fresh` (no earlier active day with
 * them) and `returning` (how many had each previous active day `p`, sorted by `p`), and the hits
 * of the unit, scope and values (CountSums), so a list of visitors and page views reads these
 * rows alone. One row per unit and value keeps a read at O(units × values) rows however many
 * distinct previous days there are.
 */
export interface VisitorCount extends CountSums {
  key: string;
  scope: VisitorCountScope;
  values: Record<string, string | null>;
  unit: CountUnit;
  /** The day, or the week's Monday. */
  day: string;
  fresh: number;
  returning: Array<{ p: string; n: number }>;
}

/** Counts being accumulated, by key, scope, values and unit; `returning` by previous day. */
export type VisitorCountTally = Map<string, { count: Omit<VisitorCount, 'returning'>; returning: Map<string, number> }>;

/** Where addVisitorCounts adds the counts of one unit: the units among `only` (or every one), into `tally`. */
export interface CountTarget {
  unit: CountUnit;
  only: ReadonlySet<string> | 'all';
  tally: VisitorCountTally;
}

/**
 * Adds one visitor's contribution to each target's tally in units of its `unit`: for every key,
 * scope and value, the visitor's distinct active days with that value, and for each unit among
 * them in `only` (or every one) the hits of those days and one visitor, on its first active day
 * there: fresh, or returning from the active day before it. Several rows of a day with the same
 * value (other fields differ) are one visitor-day. The active days are gathered once per key for
 * all scopes and targets (activeDaysByScope); each tally gets its rows in the same order as if
 * it were counted alone.
 */
export function addVisitorCounts(
  rows: readonly VisitorSetSample[],
  keys: readonly VisitorCountKey[],
  targets: readonly CountTarget[],
): void {
  for (const key of keys) {
    const byScope = activeDaysByScope(rows, key);
    VISITOR_COUNT_SCOPES.forEach((scope, scopeIndex) => {
      for (const [id, { values, days: active }] of byScope[scopeIndex]) {
        const sorted = [...active.keys()].sort();
        for (const { unit, only, tally } of targets) {
          const rowPrefix = `${key.name}\u0000${scope}\u0000${id}\u0000${unit}\u0000`;
          // The days of a week meet its row one after the other: looked up once.
          let entry: TallyEntry | undefined;
          for (let index = 0; index < sorted.length; index++) {
            const day = sorted[index];
            const label = unitLabel(unit, day);
            if (only !== 'all' && !only.has(label)) continue;
            if (entry?.count.day !== label) {
              const rowId = rowPrefix + label;
              entry = tally.get(rowId);
              if (!entry) {
                entry = {
                  count: {
                    key: key.name,
                    scope,
                    values,
                    unit,
                    day: label,
                    fresh: 0,
                    pageviews: 0,
                    events: 0,
                    botHits: 0,
                  },
                  returning: new Map(),
                };
                tally.set(rowId, entry);
              }
            }
            const sums = active.get(day)!;
            entry.count.pageviews += sums.pageviews;
            entry.count.events += sums.events;
            entry.count.botHits += sums.botHits;
            const previous = index > 0 ? sorted[index - 1] : undefined;
            if (previous === undefined) entry.count.fresh += 1;
            else if (unitLabel(unit, previous) !== label)
              entry.returning.set(previous, (entry.returning.get(previous) ?? 0) + 1);
          }
        }
      }
    });
  }
}

/** The tally as stored rows. */
export function visitorCountRows(tally: VisitorCountTally): VisitorCount[] {
  return [...tally.values()].map(({ count, returning }) => ({
    ...count,
    returning: [...returning].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, n]) => ({ p, n })),
  }));
}

/** A visitor's values of one key in one scope, by valueIdOf: the values, and a value per active day. */
type ByValue<T> = Map<string, { values: Record<string, string | null>; days: Map<string, T> }>;

/**
 * The indexes in VISITOR_COUNT_SCOPES of the scopes a row of `classification` counts in: ALL, and
 * its own if that is one.
 */
function scopeIndexesOf(classification: string): readonly number[] {
  return SCOPE_INDEXES.get(classification) ?? ALL_SCOPE_ONLY;
}
const ALL_SCOPE_ONLY = [VISITOR_COUNT_SCOPES.indexOf('ALL')];
const SCOPE_INDEXES = new Map<string, readonly number[]>(
  VISITOR_COUNT_SCOPES.map((scope) => [
    scope,
    VISITOR_COUNT_SCOPES.flatMap((other, otherIndex) => (inScope(other, scope) ? [otherIndex] : [])),
  ]),
);

/**
 * Per scope (in VISITOR_COUNT_SCOPES order), the visitor's values of `key` in that scope, each
 * with `fold(previous, row)` of its rows per active day. One pass over the rows for every scope,
 * where a pass per scope read each row three times; the values of each scope keep the order of
 * their first row, as a pass of their own would.
 */
function byValueAndDay<T>(
  rows: ReadonlyArray<VisitorSetSample>,
  key: VisitorCountKey,
  fold: (previous: T | undefined, row: VisitorSetSample) => T,
): Array<ByValue<T>> {
  const byScope = VISITOR_COUNT_SCOPES.map(() => new Map() as ByValue<T>);
  for (const row of rows) {
    const id = valueIdOf(key, row);
    for (const scopeIndex of scopeIndexesOf(row.classification)) {
      const byValue = byScope[scopeIndex];
      let entry = byValue.get(id);
      if (!entry) {
        entry = { values: keyValues(key, row), days: new Map() };
        byValue.set(id, entry);
      }
      entry.days.set(row.day, fold(entry.days.get(row.day), row));
    }
  }
  return byScope;
}

/** For each scope and value of the key the visitor had: its active days, each with the hits of its rows. */
function activeDaysByScope(rows: readonly VisitorSetSample[], key: VisitorCountKey): Array<ByValue<CountSums>> {
  return byValueAndDay<CountSums>(rows, key, (sums = { pageviews: 0, events: 0, botHits: 0 }, row) => {
    sums.pageviews += row.pageviews;
    sums.events += row.events;
    if (row.classification === 'BOT') sums.botHits += row.events;
    return sums;
  });
}

/**
 * A change to one stored count row (one key, scope, value and unit): visitors to add as `fresh`
 * and by previous active day (negative: an entry that moved elsewhere), and hits to add.
 */
export interface CountDelta extends CountSums {
  key: string;
  scope: VisitorCountScope;
  values: Record<string, string | null>;
  unit: CountUnit;
  day: string;
  fresh: number;
  returning: Map<string, number>;
}

/** Count deltas being accumulated, by key, scope, values, unit and unit label. */
export type CountDeltaTally = Map<string, CountDelta>;

/** The delta of a row in `tally`, made the first time; `valueId` is valueIdOf the row's values. */
function deltaOf(
  tally: CountDeltaTally,
  key: string,
  scope: VisitorCountScope,
  values: Record<string, string | null>,
  valueId: string,
  unit: CountUnit,
  day: string,
): CountDelta {
  const id = `${key}\u0000${scope}\u0000${valueId}\u0000${unit}\u0000${day}`;
  let delta = tally.get(id);
  if (!delta) {
    delta = { key, scope, values, unit, day, fresh: 0, returning: new Map(), pageviews: 0, events: 0, botHits: 0 };
    tally.set(id, delta);
  }
  return delta;
}

/** Per unit label, the entry a visitor with these active days (sorted) has there: the active day before its first day in the unit, or null (fresh). */
function unitEntries(sorted: readonly string[], unit: CountUnit): Map<string, string | null> {
  const entries = new Map<string, string | null>();
  sorted.forEach((day, index) => {
    const label = unitLabel(unit, day);
    if (!entries.has(label)) entries.set(label, index > 0 ? sorted[index - 1] : null);
  });
  return entries;
}

/**
 * What the visitor-day rows created by batch `batch` (`firstBatch`) change in one visitor's
 * counts, from its whole history (`rows`, every day, with `firstBatch`; missing = before any
 * batch): for every key, scope and value, a unit the new days open gains the visitor, returning
 * from the active day before its first day there (or fresh), and a unit whose first day's
 * previous active day is now a new day has its entry moved from the old previous day to that one
 * — the previous-active-day deltas, whatever the size of the days. For each of `units`, only the
 * labels its `counted` accepts are tallied (weeks: closed ones only). Hits are not tallied here
 * (addHitDeltas). The history is grouped once per key for every scope and unit; the deltas meet
 * `tally` unit by unit, in the order a call per unit made them.
 */
export function addMembershipDeltas(
  rows: ReadonlyArray<VisitorSetSample & { firstBatch?: number }>,
  keys: readonly VisitorCountKey[],
  batch: number,
  units: ReadonlyArray<{ unit: CountUnit; counted: (label: string) => boolean }>,
  tally: CountDeltaTally,
): void {
  // Per key, scope and value: its active days (sorted), and those it had before the batch.
  const histories = keys.map((key) =>
    // A day is new when every row of it with this value was created by the batch.
    byValueAndDay<boolean>(rows, key, (isNew = true, row) => isNew && row.firstBatch === batch).map((byValue) =>
      [...byValue].flatMap(([valueId, { values, days }]) => {
        const all = [...days.keys()].sort();
        const old = all.filter((day) => !days.get(day));
        return old.length === all.length ? [] : [{ valueId, values, all, old }];
      }),
    ),
  );
  for (const { unit, counted } of units)
    keys.forEach((key, keyIndex) =>
      VISITOR_COUNT_SCOPES.forEach((scope, scopeIndex) => {
        for (const { valueId, values, all, old } of histories[keyIndex][scopeIndex]) {
          const before = unitEntries(old, unit);
          for (const [label, previous] of unitEntries(all, unit)) {
            if (!counted(label)) continue;
            const was = before.has(label) ? before.get(label) : undefined;
            if (was === previous) continue;
            const delta = deltaOf(tally, key.name, scope, values, valueId, unit, label);
            if (was !== undefined) {
              if (was === null) delta.fresh -= 1;
              else delta.returning.set(was, (delta.returning.get(was) ?? 0) - 1);
            }
            if (previous === null) delta.fresh += 1;
            else delta.returning.set(previous, (delta.returning.get(previous) ?? 0) + 1);
          }
        }
      }),
    );
}

/** Adds one hit's page view, hit and bot hit to the count rows of its values on `day` (in units `counted` accepts). */
export function addHitDeltas(
  hit: { name: string; classification: string; [field: string]: unknown },
  pageview: boolean,
  day: string,
  keys: readonly VisitorCountKey[],
  units: ReadonlyArray<{ unit: CountUnit; counted: (label: string) => boolean }>,
  tally: CountDeltaTally,
): void {
  for (const key of keys) {
    const values = keyValues(key, hit);
    const valueId = valueIdOf(key, hit);
    for (const scope of VISITOR_COUNT_SCOPES) {
      if (!inScope(scope, hit.classification)) continue;
      for (const { unit, counted } of units) {
        const label = unitLabel(unit, day);
        if (!counted(label)) continue;
        const delta = deltaOf(tally, key.name, scope, values, valueId, unit, label);
        delta.pageviews += pageview ? 1 : 0;
        delta.events += 1;
        if (hit.classification === 'BOT') delta.botHits += 1;
      }
    }
  }
}

/** The label of the bucket a `YYYY-MM-DD` day falls in, as `dayBucket` computes it in a pipeline. */
export function dayBucketLabel(day: string, interval: Exclude<Interval, 'hour'> | undefined): string {
  if (interval === undefined) return '';
  if (interval === 'day') return day;
  const date = parseCalendarDate(day);
  if (!date) throw new Error(`not a day: ${day}`);
  return formatCalendarDate(interval === 'week' ? startOfWeek(date) : startOfMonth(date));
}

/**
 * The count deltas that turn the counts of `before` into those of `after` (tallies of the same
 * visitors' whole histories, as addVisitorCounts makes them), for the units `counted` accepts:
 * a visitor's contribution to the counts depends on its history alone, so the difference of its
 * history's tallies is exactly what its change moves, memberships taken away included. Rows that
 * do not change are left out.
 */
export function tallyDifference(
  before: VisitorCountTally,
  after: VisitorCountTally,
  counted: (unit: CountUnit, label: string) => boolean,
): CountDelta[] {
  const deltas: CountDelta[] = [];
  const add = (old: TallyEntry | undefined, now: TallyEntry | undefined) => {
    const { key, scope, values, unit, day } = (now ?? old)!.count;
    if (!counted(unit, day)) return;
    const returning = new Map<string, number>();
    if (now) for (const [p, n] of now.returning) returning.set(p, n);
    if (old) for (const [p, n] of old.returning) returning.set(p, (returning.get(p) ?? 0) - n);
    for (const [p, n] of returning) if (n === 0) returning.delete(p);
    const delta: CountDelta = {
      key,
      scope,
      values,
      unit,
      day,
      fresh: (now?.count.fresh ?? 0) - (old?.count.fresh ?? 0),
      returning,
      pageviews: (now?.count.pageviews ?? 0) - (old?.count.pageviews ?? 0),
      events: (now?.count.events ?? 0) - (old?.count.events ?? 0),
      botHits: (now?.count.botHits ?? 0) - (old?.count.botHits ?? 0),
    };
    if (delta.fresh !== 0 || returning.size > 0 || delta.pageviews !== 0 || delta.events !== 0 || delta.botHits !== 0)
      deltas.push(delta);
  };
  // The rows of `before` first, then those only `after` has.
  for (const [id, old] of before) add(old, after.get(id));
  for (const [id, now] of after) if (!before.has(id)) add(undefined, now);
  return deltas;
}

type TallyEntry = VisitorCountTally extends Map<string, infer Entry> ? Entry : never;
