import type { PipelineStage } from 'mongoose';
import type { QueryDimension } from '../query/dimensions.js';
import type { StatsQuery } from '../query/stats-query.js';
import {
  IS_BOT_HIT,
  IS_PAGEVIEW,
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

/**
 * Hit metrics per group (the query's dimensions and optional time bucket), over raw hits:
 * - `visitors`: distinct `visitorKey` (docs/metrics.md; "users" in `/api/v1/data/*`),
 * - `pageviews`: hits named `pageview` ("views" in `/api/v1/data/*`),
 * - `events`: all hits, page views and custom events (Plausible's "total events"),
 * - `botHits`: hits classified BOT (for bot share; run with classification `ALL`).
 *
 * Output rows: `{ key: { <dimension>: value, time?: label }, visitors, pageviews, events, botHits }`.
 * Hits are bucketed by their own time; with a visit-level dimension or filter (entry/exit page)
 * each hit is first joined to its visit.
 */
export function buildHitMetricsPipeline(
  query: StatsQuery<QueryDimension>,
  options: { classification: boolean } = { classification: true },
): PipelineStage[] {
  const match = matchHits(query, options);
  const time = query.interval ? { time: bucketExpression('$ts', query.interval, query.timezone) } : {};
  const sums = { pageviews: { $sum: IS_PAGEVIEW }, events: { $sum: 1 }, botHits: { $sum: IS_BOT_HIT } };
  const project: PipelineStage.Project = {
    $project: { _id: 0, key: '$_id', visitors: { $size: '$visitors' }, pageviews: 1, events: 1, botHits: 1 },
  };

  if (!needsVisitOfHit(query)) {
    const key = {
      ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: hitFieldPath }),
      ...time,
    };
    return [match, { $group: { _id: groupId(key), visitors: { $addToSet: '$visitorKey' }, ...sums } }, project];
  }

  const perVisitKey = {
    visitId: '$visitId',
    visitorKey: '$visitorKey',
    ...dimensionKeys(hitDimensions(query), { hit: hitFieldPath, visit: hitFieldPath }),
    ...time,
  };
  const finalKey = {
    ...dimensionKeys(query.dimensions, {
      hit: (dimension) => `$_id.${dimension}`,
      visit: (d) => visitFieldPath(d, 'visit.'),
    }),
    ...(query.interval ? { time: '$_id.time' } : {}),
  };
  const filters = visitFilters(query).map((filter) => filterCondition(filter, 'visit.'));
  return [
    match,
    { $group: { _id: perVisitKey, ...sums } },
    ...lookupVisit(),
    ...(filters.length > 0 ? [{ $match: { $and: filters } }] : []),
    {
      $group: {
        _id: groupId(finalKey),
        visitors: { $addToSet: '$_id.visitorKey' },
        pageviews: { $sum: '$pageviews' },
        events: { $sum: '$events' },
        botHits: { $sum: '$botHits' },
      },
    },
    project,
  ];
}
