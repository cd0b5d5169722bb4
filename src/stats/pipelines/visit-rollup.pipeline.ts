import type { PipelineStage } from 'mongoose';
import type { StatsQuery } from '../query/stats-query.js';
import { dayBucket, type DaySlice } from './rollup.pipeline.js';
import {
  bucketExpression,
  dimensionKeys,
  groupId,
  hitFieldPath,
  matchListedDays,
  settledDays,
  visitFieldPath,
} from './stages.js';
import { VISIT_SUMS, visitConditions } from './visit-metrics.pipeline.js';

/**
 * Rows `{ key, visits, bounces, durationMs, visitPageviews }`: the caller adds the rollup's and
 * the raw days' sums, then divides the milliseconds once, exactly as the raw pipeline does.
 */
const VISIT_MS_PROJECT: PipelineStage.Project = {
  $project: { _id: 0, key: '$_id', visits: 1, bounces: 1, durationMs: 1, visitPageviews: 1 },
};

export const VISIT_HOURS_COLLECTION = 'stats_visit_hours';
export const VISIT_SOURCES_COLLECTION = 'stats_visit_sources';
/** What each visit adds now (written by RollupRepository): its attribution by day, for a counts-backed read's tail. */
export const VISIT_CONTRIBUTIONS_COLLECTION = 'stats_visit_contributions';

/**
 * The visit metrics of `buildVisitMetricsPipeline` for a query grouped by one attribution
 * dimension (no filter, not hourly), from the visit-source rows of the range's settled days (the
 * caller adds the raw days' sums, `buildVisitMetricsOfDaysPipeline`). Served by
 * `{ siteId, dimension, day }` on stats_visit_sources.
 */
export function buildVisitSourceMetricsPipeline(
  query: StatsQuery,
  days: { fromDay: string; toDay: string; rawDays: DaySlice[] },
): PipelineStage[] {
  const [dimension] = query.dimensions;
  const conditions: Record<string, unknown>[] = [{ siteId: query.siteId }, { dimension }, { day: settledDays(days) }];
  if (query.classification !== 'ALL') conditions.push({ classification: query.classification });
  const interval = query.interval === 'hour' ? undefined : query.interval;
  return [
    { $match: { $and: conditions } },
    {
      $group: {
        _id: { [dimension]: { $ifNull: ['$value', null] }, ...(interval ? { time: dayBucket(interval) } : {}) },
        visits: { $sum: '$visits' },
        bounces: { $sum: '$bounces' },
        durationMs: { $sum: '$durationMs' },
        visitPageviews: { $sum: '$visitPageviews' },
      },
    },
    VISIT_MS_PROJECT,
  ];
}

/**
 * The visit metrics of `buildVisitMetricsPipeline` for an eligible query, from the visit-hour
 * rows of the range's settled days (the caller adds the raw days' sums, see
 * `buildVisitMetricsOfDaysPipeline`: visit sums add up, so no union is needed). Served by
 * `{ siteId, day }` on stats_visit_hours.
 */
export function buildRollupVisitMetricsPipeline(
  query: StatsQuery,
  days: { fromDay: string; toDay: string; rawDays: DaySlice[] },
): PipelineStage[] {
  const conditions: Record<string, unknown>[] = [{ siteId: query.siteId }, { day: settledDays(days) }];
  if (query.classification !== 'ALL') conditions.push({ classification: query.classification });
  const time =
    query.interval === undefined ? undefined : query.interval === 'hour' ? '$hour' : dayBucket(query.interval);
  return [
    { $match: { $and: conditions } },
    {
      $group: {
        _id: groupId(time === undefined ? {} : { time }),
        visits: { $sum: '$visits' },
        bounces: { $sum: '$bounces' },
        durationMs: { $sum: '$durationMs' },
        visitPageviews: { $sum: '$visitPageviews' },
      },
    },
    VISIT_MS_PROJECT,
  ];
}

/**
 * The same sums straight from the visits that start on the given days (those the rollup job has
 * not settled yet), sorted by day, grouped by the query's visit-level dimensions if any. Served
 * by the `{ siteId, start }` index on visits.
 */
export function buildVisitMetricsOfDaysPipeline(query: StatsQuery, rawDays: DaySlice[]): PipelineStage[] {
  const key = {
    ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: (dimension) => visitFieldPath(dimension, '') }),
    ...(query.interval ? { time: bucketExpression('$start', query.interval, query.timezone) } : {}),
  };
  return [
    matchListedDays(query.siteId, 'start', rawDays, visitConditions(query, '')),
    { $group: { _id: groupId(key), ...VISIT_SUMS('') } },
    VISIT_MS_PROJECT,
  ];
}
