import type { PipelineStage } from 'mongoose';
import type { QueryDimension } from '../query/dimensions.js';
import type { StatsQuery } from '../query/stats-query.js';
import { VISITS_COLLECTION, filterCondition, matchHits, visitFilters } from '../pipelines/stages.js';

type Expression = Record<string, unknown>;

/**
 * How far each visitor got in a funnel, as `{ _id: level, visitors }` rows (level 0 = matched no
 * first step; rows with no visitor are absent). Over the raw hits of the query (site, range,
 * classification, filters; a visit-level filter judges the hit's visit):
 * 1. keep the hits that complete at least one step, each with one flag per step;
 * 2. per visit, in time order (ties by insertion order, `_id`), walk the flags: the level rises
 *    from k to k+1 at the first later hit completing step k+1 — other hits may come between
 *    steps, and one hit completes at most one step;
 * 3. per visitor, the deepest level of any visit; then visitors per level.
 * The greedy walk finds the longest completed prefix of the steps: taking the earliest hit for
 * each step leaves every later hit available to the next one.
 */
export function buildFunnelPipeline(query: StatsQuery<QueryDimension>, steps: Expression[]): PipelineStage[] {
  const visitLevel = visitFilters(query);
  const ofVisit: PipelineStage[] =
    visitLevel.length === 0
      ? []
      : [
          { $lookup: { from: VISITS_COLLECTION, localField: '_id', foreignField: '_id', as: 'visit' } },
          { $unwind: '$visit' },
          { $match: { $and: visitLevel.map((filter) => filterCondition(filter, 'visit.')) } },
        ];
  return [
    matchHits(query, { classification: true }),
    { $match: { $expr: { $or: steps } } },
    {
      $project: {
        _id: 1,
        ts: 1,
        visitId: 1,
        visitorKey: 1,
        marks: steps.map((step) => ({ $cond: [step, true, false] })),
      },
    },
    { $sort: { visitId: 1, ts: 1, _id: 1 } },
    { $group: { _id: '$visitId', visitorKey: { $first: '$visitorKey' }, marks: { $push: '$marks' } } },
    ...ofVisit,
    {
      $project: {
        visitorKey: 1,
        level: {
          $reduce: {
            input: '$marks',
            initialValue: 0,
            // Past the last step the index is out of range: no element, no rise.
            in: {
              $cond: [{ $eq: [{ $arrayElemAt: ['$$this', '$$value'] }, true] }, { $add: ['$$value', 1] }, '$$value'],
            },
          },
        },
      },
    },
    { $group: { _id: '$visitorKey', level: { $max: '$level' } } },
    { $group: { _id: '$level', visitors: { $sum: 1 } } },
  ];
}
