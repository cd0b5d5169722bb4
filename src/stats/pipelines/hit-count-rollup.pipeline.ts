import type { PipelineStage } from 'mongoose';
import type { StatsQuery } from '../query/stats-query.js';
import { dayBucket, type DaySlice } from './rollup.pipeline.js';
import {
  IS_BOT_HIT,
  IS_PAGEVIEW,
  bucketExpression,
  dimensionKeys,
  filterCondition,
  groupId,
  hitFieldPath,
  matchListedDays,
  settledDays,
} from './stages.js';

export const HIT_HOURS_COLLECTION = 'stats_hit_hours';
export const HIT_DAYS_COLLECTION = 'stats_hit_days';

function conditionsOf(query: StatsQuery, options: { classification: boolean }): Record<string, unknown>[] {
  const conditions: Record<string, unknown>[] = [];
  if (options.classification && query.classification !== 'ALL')
    conditions.push({ classification: query.classification });
  conditions.push(...query.filters.map((filter) => filterCondition(filter)));
  return conditions;
}

const PROJECT_COUNTS: PipelineStage.Project = {
  $project: { _id: 0, key: '$_id', visitors: { $literal: 0 }, pageviews: 1, events: 1, botHits: 1 },
};

/**
 * Page views, events and bot hits per group (as `buildHitMetricsPipeline` counts them; visitors
 * are not counted: 0) from the hit-hour rows of one set over the range's settled days; the caller
 * adds `buildHitCountsOfDaysPipeline` for the others. Served by `{ siteId, set, day }` on
 * stats_hit_hours, or on stats_hit_days (the same rows without `hour`) for a daily set.
 */
export function buildRollupHitCountsPipeline(
  query: StatsQuery,
  coverage: { fromDay: string; toDay: string; rawDays: DaySlice[]; set: string },
  options: { classification: boolean },
): PipelineStage[] {
  const time =
    query.interval === undefined ? {} : { time: query.interval === 'hour' ? '$hour' : dayBucket(query.interval) };
  const key = { ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: hitFieldPath }), ...time };
  return [
    {
      $match: {
        $and: [
          { siteId: query.siteId },
          { set: coverage.set },
          { day: settledDays(coverage) },
          ...conditionsOf(query, options),
        ],
      },
    },
    {
      $group: {
        _id: groupId(key),
        pageviews: { $sum: '$pageviews' },
        events: { $sum: '$events' },
        botHits: { $sum: { $cond: [{ $eq: ['$classification', 'BOT'] }, '$events', 0] } },
      },
    },
    PROJECT_COUNTS,
  ];
}

/** The same counts from the raw hits of the given days (those not settled yet). Served by `{ siteId, ts }` on hits. */
export function buildHitCountsOfDaysPipeline(
  query: StatsQuery,
  rawDays: DaySlice[],
  options: { classification: boolean },
): PipelineStage[] {
  const time = query.interval === undefined ? {} : { time: bucketExpression('$ts', query.interval, query.timezone) };
  const key = { ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: hitFieldPath }), ...time };
  return [
    matchListedDays(query.siteId, 'ts', rawDays, conditionsOf(query, options)),
    {
      $group: {
        _id: groupId(key),
        pageviews: { $sum: IS_PAGEVIEW },
        events: { $sum: 1 },
        botHits: { $sum: IS_BOT_HIT },
      },
    },
    PROJECT_COUNTS,
  ];
}
