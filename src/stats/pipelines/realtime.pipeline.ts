import type { PipelineStage, Types } from 'mongoose';
import type { ClassificationFilter } from '../query/stats-query.js';
import { IS_PAGEVIEW } from './stages.js';

export interface RealtimeInput {
  siteId: Types.ObjectId;
  /** The window is `(now − windowMinutes, now]`. */
  now: Date;
  windowMinutes: number;
  classification: ClassificationFilter;
}

/**
 * Visitors (distinct `visitorKey`) and page views in the last few minutes; served by the
 * `{ siteId, ts }` index on hits. Output: at most one row `{ visitors, pageviews }`.
 */
export function buildRealtimePipeline(input: RealtimeInput): PipelineStage[] {
  const since = new Date(input.now.getTime() - input.windowMinutes * 60_000);
  const match: Record<string, unknown> = { siteId: input.siteId, ts: { $gt: since, $lte: input.now } };
  if (input.classification !== 'ALL') match.classification = input.classification;
  return [
    { $match: match },
    { $group: { _id: null, visitors: { $addToSet: '$visitorKey' }, pageviews: { $sum: IS_PAGEVIEW } } },
    { $project: { _id: 0, visitors: { $size: '$visitors' }, pageviews: 1 } },
  ];
}
