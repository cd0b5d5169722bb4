import type { PipelineStage } from 'mongoose';
import type { Interval, StatsQuery } from '../query/stats-query.js';
import type { VisitorCountKey } from '../rollups/visitor-count-keys.js';
import { dayBucket, type DaySlice } from './rollup.pipeline.js';
import { groupId } from './stages.js';

export const VISITOR_COUNTS_COLLECTION = 'stats_visitor_counts';

/** Which counts answer a query's visitors, and which newest days must come from raw hits instead. */
export interface VisitorCountCoverage {
  key: VisitorCountKey;
  fromDay: string;
  toDay: string;
  /**
   * From the first unsettled day of the range through its end, as one slice: read from raw hits,
   * each visitor counted unless active (same values, scope and bucket) in the settled days before.
   */
  tail?: DaySlice;
}

/**
 * Distinct visitors, page views, hits and bot hits per group from stats_visitor_counts over the
 * range's settled days (hits simply add up over days). A visitor
 * active in `[a, b]` has exactly one active day there that is fresh or whose previous active day
 * with the same values is before `a`, so summing those per row counts each visitor once. Per
 * time bucket, `a` is the later of the bucket's first day and the range's (`YYYY-MM-DD` labels
 * compare as strings). Served by `{ siteId, key, scope, day }`; O(days × values) entries in a
 * few documents per day.
 */
export function buildVisitorCountsPipeline(query: StatsQuery, coverage: VisitorCountCoverage): PipelineStage[] {
  const interval = query.interval as Exclude<Interval, 'hour'> | undefined;
  const { fromDay } = coverage;
  const day = coverage.tail ? { $gte: fromDay, $lt: coverage.tail.day } : { $gte: fromDay, $lte: coverage.toDay };
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
    { $match: { siteId: query.siteId, key: coverage.key.name, scope: query.classification, day } },
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
