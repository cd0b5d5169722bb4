import type { Document } from 'mongodb';
import type { QueryDimension } from '../query/dimensions.js';
import { visitorKeyConditions, type StatsQuery } from '../query/stats-query.js';
import { bucketExpression, dimensionKeys, filterCondition, groupId, hitFieldPath } from './stages.js';

/**
 * Engagement sums per group, over the engagement records (one per page left or hidden, see the
 * ingestion module's Engagement), in two steps as Plausible defines the metrics:
 * 1. per visitor and group: the engagement time summed, and the deepest scroll (`$max`);
 * 2. per group: engaged visitors, their engagement time, and the sum of their deepest scrolls.
 * time_on_page = engagement time ÷ engaged visitors; scroll_depth = mean of the deepest scrolls.
 *
 * Records carry a hit's fields under the same names, so the hit-level filters and dimensions read
 * them as they read hits (the caller refuses the others). These are the stages after the
 * repository's `$match` on site and `from ≤ ts < to`.
 * Output rows: `{ key: { <dimension>: value, time?: label }, engagedVisitors, engagementMs, scrollDepthSum }`.
 */
export function buildEngagementMetricsStages(query: StatsQuery<QueryDimension>): Document[] {
  const conditions: Document[] = [];
  if (query.classification !== 'ALL') conditions.push({ classification: query.classification });
  conditions.push(...query.filters.map((filter) => filterCondition(filter)));
  // Behavioural filters (has_done / has_not_done) as visitor keys: records carry the visitor's key.
  conditions.push(...visitorKeyConditions(query.visitorKeys));
  const key = {
    ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: hitFieldPath }),
    ...(query.interval ? { time: bucketExpression('$ts', query.interval, query.timezone) } : {}),
  };
  const groupKey = Object.fromEntries(Object.keys(key).map((field) => [field, `$_id.group.${field}`]));
  return [
    ...(conditions.length > 0 ? [{ $match: { $and: conditions } }] : []),
    {
      $group: {
        _id: { visitorKey: '$visitorKey', group: groupId(key) },
        engagementMs: { $sum: '$engagementMs' },
        deepestScroll: { $max: '$scrollDepth' },
      },
    },
    {
      $group: {
        _id: groupId(groupKey),
        engagedVisitors: { $sum: 1 },
        engagementMs: { $sum: '$engagementMs' },
        scrollDepthSum: { $sum: '$deepestScroll' },
      },
    },
    { $project: { _id: 0, key: '$_id', engagedVisitors: 1, engagementMs: 1, scrollDepthSum: 1 } },
  ];
}
