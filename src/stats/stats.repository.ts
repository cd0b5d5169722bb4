import { Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Document } from 'mongodb';
import type { Connection, PipelineStage, Types } from 'mongoose';
import type { HitGroupSums, StatsQuery, VisitGroupSums } from './query/stats-query.js';
import { buildHitMetricsPipeline } from './pipelines/hit-metrics.pipeline.js';
import {
  buildConversionMetricsPipeline,
  matchAnyGoal,
  type ConversionGoal,
  type ConversionSums,
} from './pipelines/conversion-metrics.pipeline.js';
import { matchHits } from './pipelines/stages.js';
import { buildRealtimePipeline, type RealtimeInput } from './pipelines/realtime.pipeline.js';
import { buildUserStatsPipeline, type UserStatsInput } from './pipelines/user-stats.pipeline.js';
import { buildVisitMetricsPipeline } from './pipelines/visit-metrics.pipeline.js';
import {
  HIT_DAYS_COLLECTION,
  HIT_HOURS_COLLECTION,
  buildHitCountsOfDaysPipeline,
  buildRollupHitCountsPipeline,
} from './pipelines/hit-count-rollup.pipeline.js';
import {
  VISIT_HOURS_COLLECTION,
  VISIT_CONTRIBUTIONS_COLLECTION,
  VISIT_SOURCES_COLLECTION,
  buildVisitSourceMetricsPipeline,
  buildRollupVisitMetricsPipeline,
  buildVisitMetricsOfDaysPipeline,
} from './pipelines/visit-rollup.pipeline.js';
import {
  VISITOR_DAYS_COLLECTION,
  VISITOR_SETS_COLLECTION,
  buildPendingBucketsPipeline,
  buildPendingVisitSpansPipeline,
  buildRawDaysAttributedHitKeysPipeline,
  buildRawDaysHitKeysPipeline,
  isAttributionDimension,
  buildRollupHitMetricsPipeline,
  buildRollupUserStatsPipeline,
  type DaySlice,
  type RollupCoverage,
} from './pipelines/rollup.pipeline.js';
import {
  VISITOR_COUNTS_COLLECTION,
  buildVisitorCountsPipeline,
  countRowDays,
  type VisitorCountCoverage,
} from './pipelines/visitor-count.pipeline.js';
import { dayBucketLabel, keyValues } from './rollups/visitor-count-keys.js';
import { GOAL_VALUE_FIELDS } from './rollups/goal-value-series.js';
import { contributionOf, type StoredVisitContribution } from './rollups/batch-deltas.js';
import { storedVisitorRowFields, visitorRowCondition, visitorRowOf } from './rollups/visitor-row-names.js';
import { DIMENSION_SOURCES, type QueryDimension } from './query/dimensions.js';
import { CLASSIFICATIONS } from '../hits/hit.schema.js';
import { HitsRepository } from '../hits/hits.repository.js';
import { SessionsService } from '../sessions/sessions.service.js';

/** A group's dimension values (`null` where the hit had none) and, with an interval, its time bucket label. */
export type GroupKey = Record<string, string | null>;

/** Which hit-count rows answer a query: a set of the daily rows, or of the hourly ones. */
export type HitCountCoverage = RollupCoverage & { set: string; daily: boolean };

export interface HitMetricsRow extends HitGroupSums {
  key: GroupKey | null;
}

/** A converting hit as a goal's conversion rows count it. */
export interface GoalHit {
  ts: Date;
  visitorKey: string;
  classification: string;
  revenueAmount?: number | null;
  revenueCurrency?: string | null;
  /** The hit-level values the goal value rows split conversions by (GOAL_VALUE_FIELDS). */
  path?: string;
  countryCode?: string | null;
  browser?: string | null;
  os?: string | null;
  device?: string | null;
}

export interface ConversionMetricsRow extends ConversionSums {
  key: GroupKey | null;
  /** With `withVisitorKeys`: the converted visitors themselves. */
  visitorKeys?: string[];
}

export interface VisitMetricsRow extends VisitGroupSums {
  key: GroupKey | null;
}

/** The earliest and latest time of a site's pending hits that belong to one visit (or to none yet). */
export interface PendingVisitSpan {
  siteId: Types.ObjectId;
  visitId: string | null;
  firstTs: Date;
  lastTs: Date;
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
 * The stats module's reads: its pipelines over the raw `hits` (run through HitsRepository, owned
 * by the hits module) and `visits` (through SessionsService, owned by sessions), and over the
 * rollup collections. It writes nothing: every rollup row is written by RollupRepository, the
 * one owner of the derived collections.
 */
@Injectable()
export class StatsRepository {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly hits: HitsRepository,
    private readonly sessions: SessionsService,
  ) {}

  /** Visitors, page views, events and bot hits per group (see `buildHitMetricsPipeline`). */
  async aggregateHitMetrics(
    query: StatsQuery<QueryDimension>,
    options: { classification: boolean },
  ): Promise<HitMetricsRow[]> {
    return this.hits.aggregate<HitMetricsRow>(buildHitMetricsPipeline(query, options));
  }

  /**
   * The same numbers as `aggregateHitMetrics`, from the visitor rollup plus the raw hits of the
   * unsettled days: with unsettled days both parts return their groups' visitor keys, united
   * here so that a visitor seen on both sides counts once.
   */
  async aggregateRollupHitMetrics(
    query: StatsQuery,
    coverage: RollupCoverage,
    options: { classification: boolean },
  ): Promise<HitMetricsRow[]> {
    const collection = coverage.set ? VISITOR_SETS_COLLECTION : VISITOR_DAYS_COLLECTION;
    const rolledUp = buildRollupHitMetricsPipeline(query, coverage, options);
    if (coverage.rawDays.length === 0) return this.aggregate<HitMetricsRow>(collection, rolledUp);
    type KeyedRow = Omit<HitMetricsRow, 'visitors'> & { visitorKeys: string[] };
    const [rolled, raw] = await Promise.all([
      this.aggregate<KeyedRow>(collection, rolledUp),
      this.hits.aggregate<KeyedRow>(buildRawDaysHitKeysPipeline(query, coverage.rawDays, options)),
    ]);
    const byKey = new Map<string, { row: HitMetricsRow; keys: Set<string> }>();
    for (const { visitorKeys, ...row } of [...rolled, ...raw]) {
      const id = JSON.stringify(row.key ?? null);
      const entry = byKey.get(id);
      if (!entry) {
        byKey.set(id, { row: { ...row, visitors: 0 }, keys: new Set(visitorKeys) });
        continue;
      }
      for (const key of visitorKeys) entry.keys.add(key);
      entry.row.pageviews += row.pageviews;
      entry.row.events += row.events;
      entry.row.botHits += row.botHits;
    }
    return [...byKey.values()].map(({ row, keys }) => ({ ...row, visitors: keys.size }));
  }

  /**
   * Visitors, page views, events and bot hits per group as `aggregateHitMetrics` counts them (query
   * classification), from the day and week visitor counts of the settled days (added up per group:
   * see `buildVisitorCountsPipeline`) plus, for the unsettled tail, its raw hits: their hits add
   * up, and a tail visitor counts unless active with the same values in the same bucket's settled
   * days — looked up by visitor (`{ siteId, classification, visitorKey }` on stats_visitor_days),
   * so the cost of the tail is bounded by its own visitors' rows. A group without hits is left
   * out: an attribution count row whose visits all moved to other values stays, at zero, so that
   * a replayed batch still finds its `lastBatch`.
   */
  async aggregateHitMetricsFromCounts(query: StatsQuery, coverage: VisitorCountCoverage): Promise<HitMetricsRow[]> {
    const units = (['day', 'week'] as const).flatMap((unit) => {
      const days = countRowDays(coverage, unit);
      return days ? [buildVisitorCountsPipeline(query, coverage, unit, days)] : [];
    });
    const settled = (
      await Promise.all(units.map((pipeline) => this.aggregate<HitMetricsRow>(VISITOR_COUNTS_COLLECTION, pipeline)))
    ).flat();
    const interval = query.interval === 'hour' ? undefined : query.interval;
    const fields = [...query.dimensions, ...(interval ? ['time'] : [])];
    const normalize = (row: HitMetricsRow): HitMetricsRow => ({
      ...row,
      key: Object.fromEntries(fields.map((field) => [field, row.key?.[field] ?? null])),
    });
    const sums: Array<keyof HitMetricsRow> = ['visitors', 'pageviews', 'events', 'botHits'];
    const withHits = (rows: HitMetricsRow[]) => rows.filter((row) => row.events > 0);
    if (!coverage.tail) return withHits(sumByKey(settled.map(normalize), sums));
    type KeyedRow = Omit<HitMetricsRow, 'visitors'> & { visitorKeys: string[] };
    const { key } = coverage;
    const [attribution] = key.dimensions.filter(isAttributionDimension);
    const raw = await this.hits.aggregate<KeyedRow>(
      attribution
        ? buildRawDaysAttributedHitKeysPipeline(query, [coverage.tail])
        : buildRawDaysHitKeysPipeline(query, [coverage.tail], { classification: true }),
    );
    const seen = new Set<string>();
    const visitorKeys = [...new Set(raw.flatMap((row) => row.visitorKeys))];
    if (coverage.tail.day > coverage.fromDay && attribution) {
      // A visitor's attribution by day is in its visits' contributions (`{ siteId, v }`).
      const field = DIMENSION_SOURCES[attribution].field;
      const scope = (classification: string) =>
        query.classification === 'ALL' || query.classification === classification;
      for (let index = 0; index < visitorKeys.length; index += LOOKUP_CHUNK) {
        const rows = await this.aggregate<{ v: string; current?: StoredVisitContribution }>(
          VISIT_CONTRIBUTIONS_COLLECTION,
          [
            { $match: { siteId: query.siteId, v: { $in: visitorKeys.slice(index, index + LOOKUP_CHUNK) } } },
            { $project: { _id: 0, v: 1, current: 1 } },
          ],
        );
        for (const { v, current: stored } of rows) {
          const current = stored && contributionOf(stored);
          for (const { day, classification } of current?.hitDays ?? [])
            if (day >= coverage.fromDay && day < coverage.tail.day && scope(classification))
              seen.add(
                JSON.stringify([
                  v,
                  { [attribution]: current?.attribution?.[field] ?? null },
                  dayBucketLabel(day, interval),
                ]),
              );
        }
      }
    } else if (coverage.tail.day > coverage.fromDay) {
      const projection: Record<string, 1 | 0> = { _id: 0, visitorKey: 1, day: 1 };
      for (const dimension of key.dimensions) projection[DIMENSION_SOURCES[dimension].field] = 1;
      for (let index = 0; index < visitorKeys.length; index += LOOKUP_CHUNK) {
        const stored = await this.aggregate<Record<string, unknown>>(VISITOR_DAYS_COLLECTION, [
          {
            $match: visitorRowCondition({
              siteId: query.siteId,
              classification: { $in: query.classification === 'ALL' ? CLASSIFICATIONS : [query.classification] },
              visitorKey: { $in: visitorKeys.slice(index, index + LOOKUP_CHUNK) },
              day: { $gte: coverage.fromDay, $lt: coverage.tail.day },
            }),
          },
          { $project: storedVisitorRowFields(projection) },
        ]);
        for (const row of stored.map((one) => visitorRowOf<{ visitorKey: string; day: string }>(one)))
          seen.add(JSON.stringify([row.visitorKey, keyValues(key, row), dayBucketLabel(row.day, interval)]));
      }
    }
    const fresh: HitMetricsRow[] = raw.map(({ visitorKeys: visitors, ...row }) => {
      const values = Object.fromEntries(key.dimensions.map((dimension) => [dimension, row.key?.[dimension] ?? null]));
      const label = typeof row.key?.time === 'string' ? row.key.time : '';
      return {
        ...row,
        visitors: visitors.filter((visitor) => !seen.has(JSON.stringify([visitor, values, label]))).length,
      };
    });
    return withHits(sumByKey([...settled, ...fresh].map(normalize), sums));
  }

  /**
   * Page views, events and bot hits (visitors: 0) as `aggregateHitMetrics` counts them, from the
   * hit-hour counts plus the raw hits of the unsettled days: counts add up, so the two parts are
   * added per group here.
   */
  async aggregateRollupHitCounts(
    query: StatsQuery,
    coverage: HitCountCoverage,
    options: { classification: boolean },
  ): Promise<HitMetricsRow[]> {
    const collection = coverage.daily ? HIT_DAYS_COLLECTION : HIT_HOURS_COLLECTION;
    const [rolled, raw] = await Promise.all([
      this.aggregate<HitMetricsRow>(collection, buildRollupHitCountsPipeline(query, coverage, options)),
      coverage.rawDays.length === 0
        ? []
        : this.hits.aggregate<HitMetricsRow>(buildHitCountsOfDaysPipeline(query, coverage.rawDays, options)),
    ]);
    return sumByKey([...rolled, ...raw], ['pageviews', 'events', 'botHits']);
  }

  /**
   * The same numbers as `aggregateVisitMetrics`, from the visit-hour rollup plus the visits of the
   * unsettled days: visit sums add up, so the two parts are added per group here.
   */
  async aggregateRollupVisitMetrics(
    query: StatsQuery,
    days: { fromDay: string; toDay: string; rawDays: DaySlice[] },
    rows: 'visit-hours' | 'visit-sources' = 'visit-hours',
  ): Promise<VisitMetricsRow[]> {
    type MillisecondRow = Omit<VisitMetricsRow, 'durationSeconds'> & { durationMs: number };
    const [rolled, raw] = await Promise.all([
      rows === 'visit-hours'
        ? this.aggregate<MillisecondRow>(VISIT_HOURS_COLLECTION, buildRollupVisitMetricsPipeline(query, days))
        : this.aggregate<MillisecondRow>(VISIT_SOURCES_COLLECTION, buildVisitSourceMetricsPipeline(query, days)),
      days.rawDays.length === 0
        ? []
        : this.sessions.aggregateVisits<MillisecondRow>(buildVisitMetricsOfDaysPipeline(query, days.rawDays)),
    ]);
    // A value whose visits all moved to others keeps rows at zero (taken out, not deleted, within a batch).
    return sumByKey([...rolled, ...raw], ['visits', 'bounces', 'durationMs', 'visitPageviews'])
      .filter((row) => row.visits > 0)
      .map(({ durationMs, ...row }) => ({ ...row, durationSeconds: durationMs / 1000 }));
  }

  /** Per site and visit, the time span of the hits received after `after` (and up to `until`). */
  async findPendingVisitSpans(input: {
    after: Date;
    until?: Date;
    siteId?: Types.ObjectId;
  }): Promise<PendingVisitSpan[]> {
    return this.hits.aggregate<PendingVisitSpan>(buildPendingVisitSpansPipeline(input));
  }

  /** When each of these visits starts and ends (visits that no longer exist are left out). */
  async findVisitSpans(visitIds: string[]): Promise<Array<{ start: Date; end: Date }>> {
    return this.sessions.aggregateVisits<{ start: Date; end: Date }>([
      { $match: { _id: { $in: visitIds } } },
      { $project: { _id: 0, start: 1, end: 1 } },
    ]);
  }

  /** Where hits received after `after` (and up to `until`) lie, per site, in 15-minute buckets. */
  async findPendingBuckets(input: { after: Date; until?: Date; siteId?: Types.ObjectId }): Promise<HitBucket[]> {
    return this.hits.aggregate<HitBucket>(buildPendingBucketsPipeline(input));
  }

  /** When the site's earliest hit happened, if it has any. */
  findFirstHitTime(siteId: Types.ObjectId): Promise<Date | undefined> {
    return this.hits.findFirstHitTime(siteId);
  }

  /** Visits, bounces and durations per group (see `buildVisitMetricsPipeline`). */
  async aggregateVisitMetrics(query: StatsQuery<QueryDimension>): Promise<VisitMetricsRow[]> {
    const { collection, pipeline } = buildVisitMetricsPipeline(query);
    return collection === 'hits'
      ? this.hits.aggregate<VisitMetricsRow>(pipeline)
      : this.sessions.aggregateVisits<VisitMetricsRow>(pipeline);
  }

  async findRealtime(input: RealtimeInput): Promise<RealtimeRow> {
    const [row] = await this.hits.aggregate<RealtimeRow>(buildRealtimePipeline(input));
    return row ?? { visitors: 0, pageviews: 0 };
  }

  async findUserStats(input: UserStatsInput): Promise<UserStatsRow> {
    const [row] = await this.hits.aggregate<UserStatsRow>(buildUserStatsPipeline(input));
    return withUserStatsDefaults(row);
  }

  /** The same as `findUserStats`, from the rollup plus raw hits of the unsettled days. */
  async findUserStatsFromRollup(input: UserStatsInput, rawDays: DaySlice[]): Promise<UserStatsRow> {
    const [row] = await this.aggregate<UserStatsRow>(
      VISITOR_SETS_COLLECTION,
      buildRollupUserStatsPipeline(input.siteId, input.now, rawDays),
    );
    return withUserStatsDefaults(row);
  }

  /** Conversions per group (see `buildConversionMetricsPipeline`). */
  async aggregateConversions(
    query: StatsQuery<QueryDimension>,
    goals: ConversionGoal[],
    options: { byGoal: boolean; revenueCurrency: string | null; withVisitorKeys?: boolean },
  ): Promise<ConversionMetricsRow[]> {
    return this.hits.aggregate<ConversionMetricsRow>(buildConversionMetricsPipeline(query, goals, options));
  }

  /**
   * The visitors with a hit matching one of `goals` in `[start, end)` under `classification`
   * (no other filter): who `has_done` those goals in the range.
   */
  async findConvertedVisitorKeys(
    query: Pick<StatsQuery<QueryDimension>, 'siteId' | 'start' | 'end' | 'classification'>,
    goals: ConversionGoal[],
  ): Promise<string[]> {
    if (goals.length === 0) return [];
    const rows = await this.hits.aggregate<{ _id: string }>([
      matchHits({ ...query, timezone: 'UTC', filters: [], dimensions: [] }, { classification: true }),
      matchAnyGoal(goals),
      { $group: { _id: '$visitorKey' } },
    ]);
    return rows.map((row) => row._id);
  }

  /**
   * The site's hits already rolled up (not awaiting a rollup batch) that complete `goal`, with
   * what a conversion row and a value row need of them: a goal's backfill (GoalConversionsBuilder).
   */
  async findRolledUpGoalHits(siteId: Types.ObjectId, goal: ConversionGoal): Promise<GoalHit[]> {
    return this.hits.aggregate<GoalHit>([
      { $match: { siteId, rollupPending: { $exists: false } } },
      matchAnyGoal([goal]),
      {
        $project: {
          _id: 0,
          ts: 1,
          visitorKey: 1,
          classification: 1,
          revenueAmount: 1,
          revenueCurrency: 1,
          ...Object.fromEntries(GOAL_VALUE_FIELDS.map((field) => [field, 1])),
        },
      },
    ]);
  }

  /** Runs a pipeline over one of the stats module's own rollup collections. */
  private async aggregate<T extends object>(
    collection:
      | typeof VISITOR_DAYS_COLLECTION
      | typeof VISITOR_SETS_COLLECTION
      | typeof VISIT_HOURS_COLLECTION
      | typeof VISIT_SOURCES_COLLECTION
      | typeof HIT_HOURS_COLLECTION
      | typeof HIT_DAYS_COLLECTION
      | typeof VISITOR_COUNTS_COLLECTION
      | typeof VISIT_CONTRIBUTIONS_COLLECTION,
    pipeline: PipelineStage[],
  ): Promise<T[]> {
    return this.connection
      .collection(collection)
      .aggregate<T & Document>(pipeline as Document[], { allowDiskUse: true })
      .toArray();
  }
}

/** Visitor keys per `$in` of a lookup: a bounded command, so one look-up does not hold the store long. */
const LOOKUP_CHUNK = 500;

/** Adds up the given numeric fields of rows with the same group key (integers: exact in any order). */
function sumByKey<T extends { key: GroupKey | null }>(rows: T[], fields: Array<keyof T>): T[] {
  const byKey = new Map<string, T>();
  for (const row of rows) {
    const id = JSON.stringify(row.key ?? null);
    const sum = byKey.get(id);
    if (!sum) byKey.set(id, { ...row });
    else for (const field of fields) (sum[field] as number) += row[field] as number;
  }
  return [...byKey.values()];
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
