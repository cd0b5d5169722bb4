import type { PipelineStage, Types } from 'mongoose';

export interface UserStatsInput {
  siteId: Types.ObjectId;
  now: Date;
}

const DAY_MS = 86_400_000;

/**
 * The user statistics in one pass over a site's human (USER) hits, grouped per visitor:
 * - `totalUsers`: distinct visitors ever seen,
 * - `activeUsersLastNDays`: visitors whose latest hit is within the last N×24 h before `now`,
 * - `newUsersLast7Days`: visitors whose FIRST hit is within the last 7×24 h,
 * - `identifiedUsers`: visitors with at least one hit carrying a (hashed) userId.
 * Served by the `{ siteId, visitorKey, ts }` index on hits. Output: at most one row.
 */
export function buildUserStatsPipeline(input: UserStatsInput): PipelineStage[] {
  return [
    { $match: { siteId: input.siteId, classification: 'USER' } },
    {
      $group: {
        _id: '$visitorKey',
        firstSeen: { $min: '$ts' },
        lastSeen: { $max: '$ts' },
        identified: { $max: IS_IDENTIFIED },
      },
    },
    ...userStatsTotals(input.now),
  ];
}

/** 1 for a hit carrying a (hashed) userId. */
export const IS_IDENTIFIED = { $cond: [{ $eq: [{ $type: '$userKey' }, 'string'] }, 1, 0] };

/** From one row per visitor `{ firstSeen, lastSeen, identified }` to the user stats — shared by the raw and rollup forms. */
export function userStatsTotals(now: Date): PipelineStage[] {
  const since = (days: number) => new Date(now.getTime() - days * DAY_MS);
  const countWhen = (condition: Record<string, unknown>) => ({ $sum: { $cond: [condition, 1, 0] } });
  return [
    {
      $group: {
        _id: null,
        totalUsers: { $sum: 1 },
        activeUsersLast1Day: countWhen({ $gte: ['$lastSeen', since(1)] }),
        activeUsersLast7Days: countWhen({ $gte: ['$lastSeen', since(7)] }),
        activeUsersLast30Days: countWhen({ $gte: ['$lastSeen', since(30)] }),
        newUsersLast7Days: countWhen({ $gte: ['$firstSeen', since(7)] }),
        identifiedUsers: { $sum: '$identified' },
      },
    },
    { $project: { _id: 0 } },
  ];
}
