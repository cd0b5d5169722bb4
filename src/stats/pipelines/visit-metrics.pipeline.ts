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
  hitFilters,
  lookupVisit,
  matchHits,
  visitFieldPath,
  visitFilters,
} from './stages.js';

/**
 * Visit metrics per group. A visit belongs to the range (and time bucket) of its START, is
 * classified by its first hit (the visit's `classification`), and counts under a hit-level
 * dimension value or filter when it contains at least one such hit in the range — Plausible's
 * session semantics. Sums per group: `visits`, `bounces` (visits with exactly one page view),
 * `durationSeconds` (Σ last − first hit), `visitPageviews` (Σ page views of those visits).
 *
 * Output rows: `{ key: { <dimension>: value, time?: label }, visits, bounces, durationSeconds, visitPageviews }`.
 */
export function buildVisitMetricsPipeline(query: StatsQuery<QueryDimension>): {
  collection: 'hits' | 'visits';
  pipeline: PipelineStage[];
} {
  if (hitDimensions(query).length === 0 && hitFilters(query).length === 0) {
    return { collection: 'visits', pipeline: visitMetricsFromVisits(query) };
  }
  return { collection: 'hits', pipeline: visitMetricsFromHits(query) };
}

/**
 * Durations are summed in whole milliseconds and divided once at the end: integer sums are exact
 * in any order, so the visit-hour rollup (which adds hours' sums) gives the very same number.
 */
export const VISIT_SUMS = (prefix: string) => ({
  visits: { $sum: 1 },
  bounces: { $sum: { $cond: [{ $eq: [`$${prefix}pageviews`, 1] }, 1, 0] } },
  durationMs: { $sum: { $subtract: [`$${prefix}end`, `$${prefix}start`] } },
  visitPageviews: { $sum: `$${prefix}pageviews` },
});

const VISIT_SUMS_PROJECT: PipelineStage.Project = {
  $project: {
    _id: 0,
    key: '$_id',
    visits: 1,
    bounces: 1,
    durationSeconds: { $divide: ['$durationMs', 1000] },
    visitPageviews: 1,
  },
};

export function visitConditions(query: StatsQuery<QueryDimension>, prefix: string): Record<string, unknown>[] {
  const conditions: Record<string, unknown>[] = [{ [`${prefix}start`]: { $gte: query.start, $lt: query.end } }];
  if (query.classification !== 'ALL') conditions.push({ [`${prefix}classification`]: query.classification });
  conditions.push(...visitFilters(query).map((filter) => filterCondition(filter, prefix)));
  conditions.push(...visitorKeyConditions(query.visitorKeys, prefix));
  return conditions;
}

/**
 * Only visit-level dimensions and filters: read the visits collection directly, served by the
 * `{ siteId, start }` index on visits.
 */
function visitMetricsFromVisits(query: StatsQuery<QueryDimension>): PipelineStage[] {
  const key = {
    ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: (dimension) => visitFieldPath(dimension, '') }),
    ...(query.interval ? { time: bucketExpression('$start', query.interval, query.timezone) } : {}),
  };
  return [
    { $match: { $and: [{ siteId: query.siteId }, ...visitConditions(query, '')] } },
    { $group: { _id: groupId(key), ...VISIT_SUMS('') } },
    VISIT_SUMS_PROJECT,
  ];
}

/**
 * Hit-level dimensions or filters: find the visits that have a matching hit in the range (one
 * group per visit and hit-dimension value), then join each visit once per group.
 */
function visitMetricsFromHits(query: StatsQuery<QueryDimension>): PipelineStage[] {
  const perVisitKey = {
    visitId: '$visitId',
    ...dimensionKeys(hitDimensions(query), { hit: hitFieldPath, visit: hitFieldPath }),
  };
  const key = {
    ...dimensionKeys(query.dimensions, {
      hit: (dimension) => `$_id.${dimension}`,
      visit: (dimension) => visitFieldPath(dimension, 'visit.'),
    }),
    ...(query.interval ? { time: bucketExpression('$visit.start', query.interval, query.timezone) } : {}),
  };
  return [
    matchHits(query, { classification: false }),
    { $group: { _id: perVisitKey } },
    ...lookupVisit(),
    { $match: { $and: visitConditions(query, 'visit.') } },
    { $group: { _id: groupId(key), ...VISIT_SUMS('visit.') } },
    VISIT_SUMS_PROJECT,
  ];
}
