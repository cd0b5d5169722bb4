import type { PipelineStage } from 'mongoose';
import type { Interval, StatsQuery } from '../query/stats-query.js';
import { daysFrom, shiftDay } from '../../common/time/calendar.js';
import type { CountUnit, VisitorCountKey } from '../rollups/visitor-count-keys.js';
import { dayBucket, type DaySlice } from './rollup.pipeline.js';
import { groupId } from './stages.js';

export const VISITOR_COUNTS_COLLECTION = 'stats_visitor_counts';

/** Which counts answer a query's visitors, and which newest days must come from raw hits instead. */
export interface VisitorCountCoverage {
  key: VisitorCountKey;
  fromDay: string;
  toDay: string;
  /**
   * Mondays of the closed weeks read as week rows, in order and consecutive: every week lying
   * wholly in the range's settled days (queries without an interval only); their days are not
   * read as day rows.
   */
  weeks: string[];
  /**
   * From the first unsettled day of the range through its end, as one slice: read from raw hits,
   * each visitor counted unless active (same values, scope and bucket) in the settled days before.
   */
  tail?: DaySlice;
}

/**
 * The `day` condition of the count rows of `unit` the coverage reads, or undefined when it reads
 * none: the weeks' Mondays, or the settled days outside those weeks — a range when there are no
 * weeks, else the few days before and after them.
 */
export function countRowDays(coverage: VisitorCountCoverage, unit: CountUnit): Record<string, unknown> | undefined {
  const { fromDay, weeks, tail } = coverage;
  if (unit === 'week') return weeks.length > 0 ? { $in: weeks } : undefined;
  const last = tail ? shiftDay(tail.day, -1) : coverage.toDay;
  if (last < fromDay) return undefined;
  if (weeks.length === 0) return { $gte: fromDay, $lte: last };
  const weeksEnd = shiftDay(weeks[weeks.length - 1], 6);
  const days = daysFrom(fromDay, last).filter((day) => day < weeks[0] || day > weeksEnd);
  return days.length > 0 ? { $in: days } : undefined;
}

/**
 * Distinct visitors, page views, hits and bot hits per group from the count rows of one unit over
 * the range's settled days (`countRowDays`; the caller adds the two units' rows, and the hits
 * simply add up). A visitor active in `[a, b]` is counted on its first active day in exactly one
 * of the units making up the range, as fresh or returning from a day before `a`; on every other
 * unit it is counted in, it returns from a day in the range. So summing fresh and the returning
 * from before `a` per row counts each visitor once. Per time bucket (day rows only), `a` is the
 * later of the bucket's first day and the range's (`YYYY-MM-DD` labels compare as strings).
 * Served by `{ siteId, key, scope, unit, day }`; O(units × values) entries in a few documents per unit.
 */
export function buildVisitorCountsPipeline(
  query: StatsQuery,
  coverage: VisitorCountCoverage,
  unit: CountUnit,
  day: Record<string, unknown>,
): PipelineStage[] {
  const interval = query.interval as Exclude<Interval, 'hour'> | undefined;
  const { fromDay } = coverage;
  const key: Record<string, unknown> = {};
  for (const dimension of query.dimensions) key[dimension] = { $ifNull: [`$rows.values.${dimension}`, null] };
  if (interval) key.time = '$bucket';
  const threshold = interval ? { $max: ['$bucket', fromDay] } : fromDay;
  const returningBefore = {
    $sum: {
      $map: {
        input: { $filter: { input: '$rows.returning', as: 'r', cond: { $lt: ['$$r.p', threshold] } } },
        as: 'r',
        in: '$$r.n',
      },
    },
  };
  return [
    { $match: { siteId: query.siteId, key: coverage.key.name, scope: query.classification, unit, day } },
    ...(interval ? [{ $addFields: { bucket: dayBucket(interval) } }] : []),
    { $unwind: '$rows' },
    {
      $group: {
        _id: groupId(key),
        visitors: { $sum: { $add: ['$rows.fresh', returningBefore] } },
        pageviews: { $sum: '$rows.pageviews' },
        events: { $sum: '$rows.events' },
        botHits: { $sum: '$rows.botHits' },
      },
    },
    { $project: { _id: 0, key: '$_id', visitors: 1, pageviews: 1, events: 1, botHits: 1 } },
  ];
}
