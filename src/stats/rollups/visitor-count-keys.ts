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
  return unit === 'day' ? day : dayBucketLabel(day, 'week');
}

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

/**
 * Adds one visitor's contribution to `tally` in units of `unit`: for every key, scope and value,
 * the visitor's distinct active days with that value, and for each unit among them in `only` (or
 * every one) the hits of those days and one visitor, on its first active day there: fresh, or
 * returning from the active day before it. Several rows of a day with the same value (other
 * fields differ) are one visitor-day.
 */
export function addVisitorCounts(
  rows: readonly VisitorSetSample[],
  keys: readonly VisitorCountKey[],
  unit: CountUnit,
  only: ReadonlySet<string> | 'all',
  tally: VisitorCountTally,
): void {
  for (const key of keys) {
    for (const scope of VISITOR_COUNT_SCOPES) {
      for (const [id, { values, days: active }] of activeDaysByValue(rows, key, scope)) {
        const sorted = [...active.keys()].sort();
        sorted.forEach((day, index) => {
          const label = unitLabel(unit, day);
          if (only !== 'all' && !only.has(label)) return;
          const rowId = `${key.name}\u0000${scope}\u0000${id}\u0000${unit}\u0000${label}`;
          let entry = tally.get(rowId);
          if (!entry) {
            const empty = { fresh: 0, pageviews: 0, events: 0, botHits: 0 };
            entry = { count: { key: key.name, scope, values, unit, day: label, ...empty }, returning: new Map() };
            tally.set(rowId, entry);
          }
          const sums = active.get(day)!;
          entry.count.pageviews += sums.pageviews;
          entry.count.events += sums.events;
          entry.count.botHits += sums.botHits;
          const previous = index > 0 ? sorted[index - 1] : undefined;
          if (previous === undefined) entry.count.fresh += 1;
          else if (unitLabel(unit, previous) !== label)
            entry.returning.set(previous, (entry.returning.get(previous) ?? 0) + 1);
        });
      }
    }
  }
}

/** The tally as stored rows. */
export function visitorCountRows(tally: VisitorCountTally): VisitorCount[] {
  return [...tally.values()].map(({ count, returning }) => ({
    ...count,
    returning: [...returning].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, n]) => ({ p, n })),
  }));
}

/** For each value of the key the visitor had in `scope`: its active days, each with the hits of its rows. */
function activeDaysByValue(
  rows: readonly VisitorSetSample[],
  key: VisitorCountKey,
  scope: VisitorCountScope,
): Map<string, { values: Record<string, string | null>; days: Map<string, CountSums> }> {
  const byValue = new Map<string, { values: Record<string, string | null>; days: Map<string, CountSums> }>();
  for (const row of rows) {
    if (!inScope(scope, row.classification)) continue;
    const values = keyValues(key, row);
    const id = JSON.stringify(values);
    let entry = byValue.get(id);
    if (!entry) {
      entry = { values, days: new Map() };
      byValue.set(id, entry);
    }
    let sums = entry.days.get(row.day);
    if (!sums) {
      sums = { pageviews: 0, events: 0, botHits: 0 };
      entry.days.set(row.day, sums);
    }
    sums.pageviews += row.pageviews;
    sums.events += row.events;
    if (row.classification === 'BOT') sums.botHits += row.events;
  }
  return byValue;
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

function deltaOf(
  tally: CountDeltaTally,
  key: string,
  scope: VisitorCountScope,
  values: Record<string, string | null>,
  unit: CountUnit,
  day: string,
): CountDelta {
  const id = `${key}\u0000${scope}\u0000${JSON.stringify(values)}\u0000${unit}\u0000${day}`;
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
 * — the previous-active-day deltas, whatever the size of the days. Only units `counted` accepts
 * are tallied (weeks: closed ones only). Hits are not tallied here (addHitDeltas).
 */
export function addMembershipDeltas(
  rows: ReadonlyArray<VisitorSetSample & { firstBatch?: number }>,
  keys: readonly VisitorCountKey[],
  batch: number,
  unit: CountUnit,
  counted: (label: string) => boolean,
  tally: CountDeltaTally,
): void {
  for (const key of keys) {
    for (const scope of VISITOR_COUNT_SCOPES) {
      const byValue = new Map<string, { values: Record<string, string | null>; days: Map<string, boolean> }>();
      for (const row of rows) {
        if (!inScope(scope, row.classification)) continue;
        const values = keyValues(key, row);
        const id = JSON.stringify(values);
        let entry = byValue.get(id);
        if (!entry) {
          entry = { values, days: new Map() };
          byValue.set(id, entry);
        }
        // A day is new when every row of it with this value was created by the batch.
        const isNew = row.firstBatch === batch;
        entry.days.set(row.day, (entry.days.get(row.day) ?? true) && isNew);
      }
      for (const { values, days } of byValue.values()) {
        if (![...days.values()].some(Boolean)) continue;
        const all = [...days.keys()].sort();
        const before = unitEntries(
          all.filter((day) => !days.get(day)),
          unit,
        );
        for (const [label, previous] of unitEntries(all, unit)) {
          if (!counted(label)) continue;
          const old = before.has(label) ? before.get(label) : undefined;
          if (old === previous) continue;
          const delta = deltaOf(tally, key.name, scope, values, unit, label);
          if (old !== undefined) {
            if (old === null) delta.fresh -= 1;
            else delta.returning.set(old, (delta.returning.get(old) ?? 0) - 1);
          }
          if (previous === null) delta.fresh += 1;
          else delta.returning.set(previous, (delta.returning.get(previous) ?? 0) + 1);
        }
      }
    }
  }
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
    for (const scope of VISITOR_COUNT_SCOPES) {
      if (!inScope(scope, hit.classification)) continue;
      for (const { unit, counted } of units) {
        const label = unitLabel(unit, day);
        if (!counted(label)) continue;
        const delta = deltaOf(tally, key.name, scope, values, unit, label);
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
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const old = before.get(id);
    const now = after.get(id);
    const { key, scope, values, unit, day } = (now ?? old)!.count;
    if (!counted(unit, day)) continue;
    const difference = (field: 'fresh' | 'pageviews' | 'events' | 'botHits') =>
      (now?.count[field] ?? 0) - (old?.count[field] ?? 0);
    const returning = new Map<string, number>();
    for (const [p, n] of now?.returning ?? []) returning.set(p, n);
    for (const [p, n] of old?.returning ?? []) returning.set(p, (returning.get(p) ?? 0) - n);
    for (const [p, n] of returning) if (n === 0) returning.delete(p);
    const delta: CountDelta = {
      key,
      scope,
      values,
      unit,
      day,
      fresh: difference('fresh'),
      returning,
      pageviews: difference('pageviews'),
      events: difference('events'),
      botHits: difference('botHits'),
    };
    if (delta.fresh !== 0 || returning.size > 0 || delta.pageviews !== 0 || delta.events !== 0 || delta.botHits !== 0)
      deltas.push(delta);
  }
  return deltas;
}
