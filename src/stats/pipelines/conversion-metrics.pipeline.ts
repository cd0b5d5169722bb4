import type { PipelineStage } from 'mongoose';
import type { QueryDimension } from '../query/dimensions.js';
import { visitorKeyConditions, type StatsQuery } from '../query/stats-query.js';
import {
  bucketExpression,
  dimensionKeys,
  filterCondition,
  groupId,
  hitDimensions,
  hitFieldPath,
  lookupVisit,
  matchHits,
  needsVisitOfHit,
  visitFieldPath,
  visitFilters,
} from './stages.js';

/** A goal as the conversion pipeline needs it: its name, its match expression over a hit, its revenue currency. */
export interface ConversionGoal {
  name: string;
  /** A query-language condition all the goal's hits meet (cheap, evaluated first). */
  prefilter: Record<string, unknown>;
  match: Record<string, unknown>;
  revenueCurrency: string | null;
}

/** Per group: converted visitors, converting hits, and the revenue those hits carry in the goal's currency. */
export interface ConversionSums {
  visitors: number;
  events: number;
  revenueSum: number;
  revenueCount: number;
}

/**
 * A hit's revenue when it counts for `currency`: its amount if it was sent in that currency,
 * else null (amounts in other currencies are not converted, so they are left out).
 */
function revenueIn(currency: string | null): Record<string, unknown> | null {
  if (!currency) return null;
  return {
    $cond: [
      {
        $and: [
          { $eq: ['$revenueCurrency', { $literal: currency }] },
          { $ne: [{ $ifNull: ['$revenueAmount', null] }, null] },
        ],
      },
      '$revenueAmount',
      null,
    ],
  };
}

/**
 * Conversions per group over raw hits. A conversion is a hit in the range, passing the query's
 * hit-level filters and classification, that matches a goal. With `byGoal` a hit counts once
 * for every goal it matches and the groups carry `goal` (the goal's name); without it, a hit
 * matching several of the goals counts once and its revenue counts in `revenueCurrency`.
 * Visit-level filters and dimensions (entry/exit page) apply through the hit's visit, as in the
 * hit metrics. Output rows: `{ key, visitors, events, revenueSum, revenueCount }`, and the
 * converted visitors' keys as `visitorKeys` with `withVisitorKeys` (the raw tail of a read from
 * the conversion rows, which counts only those not converted earlier in the range).
 */
export function buildConversionMetricsPipeline(
  query: StatsQuery<QueryDimension>,
  goals: ConversionGoal[],
  options: { byGoal: boolean; revenueCurrency: string | null; withVisitorKeys?: boolean },
): PipelineStage[] {
  if (goals.length === 0) throw new Error('a conversion query needs at least one goal');
  const anyGoal = matchAnyGoal(goals);
  const tag: PipelineStage[] = options.byGoal
    ? [
        {
          $addFields: {
            conversion: {
              $concatArrays: goals.map((goal) => ({
                $cond: [goal.match, [{ goal: { $literal: goal.name }, revenue: revenueIn(goal.revenueCurrency) }], []],
              })),
            },
          },
        },
        { $unwind: '$conversion' },
      ]
    : [
        {
          $addFields: {
            conversion: {
              goal: null,
              revenue: revenueOfAnyGoalIn(goals, options.revenueCurrency),
            },
          },
        },
      ];
  const time = query.interval ? { time: bucketExpression('$ts', query.interval, query.timezone) } : {};
  const goalKey = options.byGoal ? { goal: '$conversion.goal' } : {};
  const sums = {
    events: { $sum: 1 },
    revenueSum: { $sum: { $ifNull: ['$conversion.revenue', 0] } },
    revenueCount: { $sum: { $cond: [{ $eq: [{ $ifNull: ['$conversion.revenue', null] }, null] }, 0, 1] } },
  };
  const project: PipelineStage.Project = {
    $project: {
      _id: 0,
      key: '$_id',
      visitors: { $size: '$visitors' },
      ...(options.withVisitorKeys ? { visitorKeys: '$visitors' } : {}),
      events: 1,
      revenueSum: 1,
      revenueCount: 1,
    },
  };

  if (!needsVisitOfHit(query)) {
    const key = {
      ...goalKey,
      ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: hitFieldPath }),
      ...time,
    };
    return [
      matchHits(query, { classification: true }),
      anyGoal,
      ...tag,
      { $group: { _id: groupId(key), visitors: { $addToSet: '$visitorKey' }, ...sums } },
      project,
    ];
  }

  const perVisitKey = {
    visitId: '$visitId',
    visitorKey: '$visitorKey',
    ...goalKey,
    ...dimensionKeys(hitDimensions(query), { hit: hitFieldPath, visit: hitFieldPath }),
    ...time,
  };
  const finalKey = {
    ...(options.byGoal ? { goal: '$_id.goal' } : {}),
    ...dimensionKeys(query.dimensions, {
      hit: (dimension) => `$_id.${dimension}`,
      visit: (dimension) => visitFieldPath(dimension, 'visit.'),
    }),
    ...(query.interval ? { time: '$_id.time' } : {}),
  };
  const filters = [
    ...visitFilters(query).map((filter) => filterCondition(filter, 'visit.')),
    ...visitorKeyConditions(query.visitorKeys, 'visit.'),
  ];
  return [
    matchHits(query, { classification: true }),
    anyGoal,
    ...tag,
    { $group: { _id: perVisitKey, ...sums } },
    ...lookupVisit(),
    ...(filters.length > 0 ? [{ $match: { $and: filters } }] : []),
    {
      $group: {
        _id: groupId(finalKey),
        visitors: { $addToSet: '$_id.visitorKey' },
        events: { $sum: '$events' },
        revenueSum: { $sum: '$revenueSum' },
        revenueCount: { $sum: '$revenueCount' },
      },
    },
    project,
  ];
}

/** Hits that complete one of the goals: the cheap prefilters first, then the exact expressions. */
export function matchAnyGoal(goals: ConversionGoal[]): PipelineStage.Match {
  return {
    $match: {
      $and: [{ $or: goals.map((goal) => goal.prefilter) }, { $expr: { $or: goals.map((goal) => goal.match) } }],
    },
  };
}

/**
 * Without a goal dimension, a hit's revenue counts when it matches one of the goals reporting
 * revenue in `currency` (the one currency of the goals in the query) and was sent in it.
 */
function revenueOfAnyGoalIn(goals: ConversionGoal[], currency: string | null): Record<string, unknown> | null {
  const withRevenue = goals.filter((goal) => currency !== null && goal.revenueCurrency === currency);
  if (withRevenue.length === 0) return null;
  return { $cond: [{ $or: withRevenue.map((goal) => goal.match) }, revenueIn(currency), null] };
}
