import type { PipelineStage, Types } from 'mongoose';
import type { StatsQuery } from '../query/stats-query.js';
import { HIT_COUNT_SETS, HIT_DAY_SETS, dayBucket, setVariants, type DaySlice } from './rollup.pipeline.js';
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

/**
 * Recomputes one site-day of the hit-hour counts from its raw hits in one pass: each hit is
 * projected once per set onto the set's fields, then counted per set, local hour,
 * classification and values (the caller deletes the day's old rows first). Served by the
 * `{ siteId, ts }` index on hits.
 */
export function buildHitHoursDayPipeline(siteId: Types.ObjectId, slice: DaySlice, timezone: string): PipelineStage[] {
  const variants = setVariants(HIT_COUNT_SETS);
  const row: Record<string, unknown> = {
    _id: 0,
    siteId: { $literal: siteId },
    day: { $literal: slice.day },
    set: '$_id.set',
    hour: '$_id.hour',
    classification: '$_id.classification',
    pageviews: 1,
    events: 1,
  };
  // A field absent from a set's values is absent from its rows ($project drops missing paths).
  for (const field of new Set(HIT_COUNT_SETS.flatMap((set) => set.fields))) row[field] = `$_id.values.${field}`;
  return [
    { $match: { siteId, ts: { $gte: slice.start, $lt: slice.end } } },
    {
      $project: {
        _id: 0,
        hour: bucketExpression('$ts', 'hour', timezone),
        classification: 1,
        pageview: IS_PAGEVIEW,
        variants,
      },
    },
    { $unwind: '$variants' },
    {
      $group: {
        _id: {
          set: '$variants.set',
          hour: '$hour',
          classification: '$classification',
          values: '$variants.values',
        },
        pageviews: { $sum: '$pageview' },
        events: { $sum: 1 },
      },
    },
    { $project: row },
    { $merge: { into: HIT_HOURS_COLLECTION, whenMatched: 'replace', whenNotMatched: 'insert' } },
  ];
}

/**
 * Recomputes one site-day of the daily hit counts from that day's full-combination visitor rows
 * (which carry every rolled-up field with its page views and events, and are fewer than hits):
 * each row projected once per set, then summed per set, classification and values. Served by
 * `{ siteId, day }` on stats_visitor_days; the caller deletes the day's old rows first.
 */
export function buildHitDaysDayPipeline(siteId: Types.ObjectId, day: string): PipelineStage[] {
  const row: Record<string, unknown> = {
    _id: 0,
    siteId: { $literal: siteId },
    day: { $literal: day },
    set: '$_id.set',
    classification: '$_id.classification',
    pageviews: 1,
    events: 1,
  };
  for (const field of new Set(HIT_DAY_SETS.flatMap((set) => set.fields))) row[field] = `$_id.values.${field}`;
  return [
    { $match: { siteId, day } },
    { $project: { _id: 0, classification: 1, pageviews: 1, events: 1, variants: setVariants(HIT_DAY_SETS) } },
    { $unwind: '$variants' },
    {
      $group: {
        _id: { set: '$variants.set', classification: '$classification', values: '$variants.values' },
        pageviews: { $sum: '$pageviews' },
        events: { $sum: '$events' },
      },
    },
    { $project: row },
    { $merge: { into: HIT_DAYS_COLLECTION, whenMatched: 'replace', whenNotMatched: 'insert' } },
  ];
}

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
