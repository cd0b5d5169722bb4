import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Document } from 'mongodb';
import type { Connection, PipelineStage, Types } from 'mongoose';
import type { HitGroupSums, StatsQuery, VisitGroupSums } from './query/stats-query.js';
import { buildHitMetricsPipeline } from './pipelines/hit-metrics.pipeline.js';
import { buildRealtimePipeline, type RealtimeInput } from './pipelines/realtime.pipeline.js';
import { buildUserStatsPipeline, type UserStatsInput } from './pipelines/user-stats.pipeline.js';
import { buildVisitMetricsPipeline } from './pipelines/visit-metrics.pipeline.js';
import {
  VISITOR_DAYS_COLLECTION,
  buildPendingBucketsPipeline,
  buildRollupDayPipeline,
  buildRollupHitMetricsPipeline,
  buildRollupUserStatsPipeline,
  buildSiteBucketsPipeline,
  type DaySlice,
  type RollupCoverage,
} from './pipelines/rollup.pipeline.js';

/** A group's dimension values (`null` where the hit had none) and, with an interval, its time bucket label. */
export type GroupKey = Record<string, string | null>;

export interface HitMetricsRow extends HitGroupSums {
  key: GroupKey | null;
}

export interface VisitMetricsRow extends VisitGroupSums {
  key: GroupKey | null;
}

/** A 15-minute UTC bucket of a site that holds hits. */
export interface HitBucket {
  siteId: Types.ObjectId;
  bucket: Date;
}

export interface RealtimeRow {
  visitors: number;
  pageviews: number;
}

export interface UserStatsRow {
  totalUsers: number;
  activeUsersLast1Day: number;
  activeUsersLast7Days: number;
  activeUsersLast30Days: number;
  newUsersLast7Days: number;
  identifiedUsers: number;
}

/**
 * Read-only analytical access to the `hits` (owned by ingestion) and `visits` (owned by
 * sessions) collections. Aggregating across them is the stats module's job and their
 * repositories expose no aggregation entry point, so stats runs its pipelines on the raw
 * collections through the shared connection — here, and nowhere else. It never writes them; the
 * only writes here go to the stats-owned rollup (`$merge` into stats_visitor_days).
 */
@Injectable()
export class StatsRepository {
  constructor(@InjectConnection() private readonly connection: Connection) {}

  /** Visitors, page views, events and bot hits per group (see `buildHitMetricsPipeline`). */
  async aggregateHitMetrics(query: StatsQuery, options: { classification: boolean }): Promise<HitMetricsRow[]> {
    return this.aggregate<HitMetricsRow>('hits', buildHitMetricsPipeline(query, options));
  }

  /** The same numbers as `aggregateHitMetrics`, from the visitor-day rollup plus raw hits of the unsettled days. */
  async aggregateRollupHitMetrics(
    query: StatsQuery,
    coverage: RollupCoverage,
    options: { classification: boolean },
  ): Promise<HitMetricsRow[]> {
    return this.aggregate<HitMetricsRow>(
      VISITOR_DAYS_COLLECTION,
      buildRollupHitMetricsPipeline(query, coverage, options),
    );
  }

  /** Recomputes one site-day of the rollup from raw hits (the caller has deleted the day's old rows). */
  async rollUpDay(siteId: Types.ObjectId, slice: DaySlice): Promise<void> {
    await this.aggregate('hits', buildRollupDayPipeline(siteId, slice));
  }

  /** Where hits received after `after` (and up to `until`) lie, per site, in 15-minute buckets. */
  async findPendingBuckets(input: { after: Date; until?: Date; siteId?: Types.ObjectId }): Promise<HitBucket[]> {
    return this.aggregate<HitBucket>('hits', buildPendingBucketsPipeline(input));
  }

  /** Every 15-minute bucket holding a hit of the site. */
  async findSiteBuckets(siteId: Types.ObjectId): Promise<HitBucket[]> {
    return this.aggregate<HitBucket>('hits', buildSiteBucketsPipeline(siteId));
  }

  /** Visits, bounces and durations per group (see `buildVisitMetricsPipeline`). */
  async aggregateVisitMetrics(query: StatsQuery): Promise<VisitMetricsRow[]> {
    const { collection, pipeline } = buildVisitMetricsPipeline(query);
    return this.aggregate<VisitMetricsRow>(collection, pipeline);
  }

  async findRealtime(input: RealtimeInput): Promise<RealtimeRow> {
    const [row] = await this.aggregate<RealtimeRow>('hits', buildRealtimePipeline(input));
    return row ?? { visitors: 0, pageviews: 0 };
  }

  async findUserStats(input: UserStatsInput): Promise<UserStatsRow> {
    const [row] = await this.aggregate<UserStatsRow>('hits', buildUserStatsPipeline(input));
    return withUserStatsDefaults(row);
  }

  /** The same as `findUserStats`, from the rollup plus raw hits of the unsettled days. */
  async findUserStatsFromRollup(input: UserStatsInput, rawDays: DaySlice[]): Promise<UserStatsRow> {
    const [row] = await this.aggregate<UserStatsRow>(
      VISITOR_DAYS_COLLECTION,
      buildRollupUserStatsPipeline(input.siteId, input.now, rawDays),
    );
    return withUserStatsDefaults(row);
  }

  private async aggregate<T extends object>(
    collection: 'hits' | 'visits' | typeof VISITOR_DAYS_COLLECTION,
    pipeline: PipelineStage[],
  ): Promise<T[]> {
    return this.connection
      .collection(collection)
      .aggregate<T & Document>(pipeline as Document[], { allowDiskUse: true })
      .toArray();
  }
}

function withUserStatsDefaults(row: UserStatsRow | undefined): UserStatsRow {
  return (
    row ?? {
      totalUsers: 0,
      activeUsersLast1Day: 0,
      activeUsersLast7Days: 0,
      activeUsersLast30Days: 0,
      newUsersLast7Days: 0,
      identifiedUsers: 0,
    }
  );
}
