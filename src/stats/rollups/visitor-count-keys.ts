import { formatCalendarDate, parseCalendarDate, startOfMonth, startOfWeek } from '../../common/time/calendar.js';
import { DIMENSION_SOURCES, type Dimension } from '../query/dimensions.js';
import type { Interval, StatsQuery } from '../query/stats-query.js';

/**
 * A visitor "count key": what a distinct-visitor query groups by (no dimension, one dimension, or
 * the city tuple `/data/cities` lists), and the visitor set (see VISITOR_SETS) whose rows hold
 * its fields. Only keys whose page views also have a hit-count set are kept, so a query answered
 * from the counts reads nothing that grows with traffic.
 */
export interface VisitorCountKey {
  name: string;
  set: string;
  dimensions: readonly Dimension[];
}

export const VISITOR_COUNT_KEYS: readonly VisitorCountKey[] = [
  { name: 'total', set: 'visitor', dimensions: [] },
  { name: 'country', set: 'visitor', dimensions: ['country'] },
  { name: 'place', set: 'visitor', dimensions: ['city', 'region', 'country'] },
  { name: 'network_domain', set: 'visitor', dimensions: ['network_domain'] },
  { name: 'page', set: 'page', dimensions: ['page'] },
];

/** Classification scopes counted apart: a visitor with USER and BOT hits on a day is one `ALL` visitor-day. */
export const VISITOR_COUNT_SCOPES = ['USER', 'BOT', 'ALL'] as const;
export type VisitorCountScope = (typeof VISITOR_COUNT_SCOPES)[number];

/** The key whose dimensions are exactly the query's (in any order), if any. */
export function visitorCountKeyOf(dimensions: readonly Dimension[]): VisitorCountKey | undefined {
  const wanted = new Set(dimensions);
  if (wanted.size !== dimensions.length) return undefined;
  return VISITOR_COUNT_KEYS.find(
    (key) => key.dimensions.length === wanted.size && key.dimensions.every((dimension) => wanted.has(dimension)),
  );
}

/** Whether the query's visitors can come from the counts: no filter, no hour, one key's dimensions. */
export function eligibleVisitorCountKey(query: StatsQuery): VisitorCountKey | undefined {
  if (query.interval === 'hour' || query.filters.length > 0) return undefined;
  return visitorCountKeyOf(query.dimensions);
}

/** A visitor-set row as the counts read it: the set's fields under their hit names. */
export interface VisitorSetSample {
  visitorKey: string;
  day: string;
  classification: string;
  [field: string]: unknown;
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

/** One stored count: visitors with these values on `day` whose previous active day with them was `prev`. */
export interface VisitorCount {
  key: string;
  scope: VisitorCountScope;
  values: Record<string, string | null>;
  day: string;
  prev: string | null;
  count: number;
}

/**
 * Adds one visitor's contribution to `counts`: for every key, scope and value, the visitor's
 * distinct active days with that value, and for each such day in `days` (or every day) one
 * visitor with the previous of those days as `prev`. Several rows of a day with the same value
 * (other fields differ) are one visitor-day.
 */
export function addVisitorCounts(
  rows: readonly VisitorSetSample[],
  keys: readonly VisitorCountKey[],
  days: ReadonlySet<string> | 'all',
  counts: Map<string, VisitorCount>,
): void {
  for (const key of keys) {
    for (const scope of VISITOR_COUNT_SCOPES) {
      const daysByValue = new Map<string, { values: Record<string, string | null>; days: Set<string> }>();
      for (const row of rows) {
        if (!inScope(scope, row.classification)) continue;
        const values = keyValues(key, row);
        const id = JSON.stringify(values);
        const entry = daysByValue.get(id) ?? { values, days: new Set<string>() };
        entry.days.add(row.day);
        daysByValue.set(id, entry);
      }
      for (const [id, { values, days: active }] of daysByValue) {
        const sorted = [...active].sort();
        sorted.forEach((day, index) => {
          if (days !== 'all' && !days.has(day)) return;
          const prev = index === 0 ? null : sorted[index - 1];
          const countId = `${key.name}\u0000${scope}\u0000${id}\u0000${day}\u0000${prev}`;
          const count = counts.get(countId);
          if (count) count.count += 1;
          else counts.set(countId, { key: key.name, scope, values, day, prev, count: 1 });
        });
      }
    }
  }
}

/**
 * The days whose counts change when `changed` days of this visitor are recomputed besides those
 * days themselves: for each key, scope and value, the visitor's next active day after a changed
 * day (its `prev` is the changed day, or was before it).
 */
export function forwardDays(
  rows: readonly VisitorSetSample[],
  keys: readonly VisitorCountKey[],
  changed: ReadonlySet<string>,
  into: Set<string>,
): void {
  for (const key of keys) {
    for (const scope of VISITOR_COUNT_SCOPES) {
      const daysByValue = new Map<string, Set<string>>();
      for (const row of rows) {
        if (!inScope(scope, row.classification)) continue;
        const id = JSON.stringify(keyValues(key, row));
        const active = daysByValue.get(id) ?? new Set<string>();
        active.add(row.day);
        daysByValue.set(id, active);
      }
      for (const active of daysByValue.values()) {
        const sorted = [...active].sort();
        sorted.forEach((day, index) => {
          const next = sorted[index + 1];
          if (changed.has(day) && next !== undefined && !changed.has(next)) into.add(next);
        });
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
