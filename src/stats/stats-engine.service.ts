import { BadRequestException, Injectable } from '@nestjs/common';
import { EngagementsRepository } from '../ingestion/engagements.repository.js';
import { buildEngagementMetricsStages } from './pipelines/engagement-metrics.pipeline.js';
import { deriveMetrics, type MetricValues } from './query/derive-metrics.js';
import { dimensionLevel, type QueryDimension } from './query/dimensions.js';
import {
  ENGAGEMENT_METRIC_SET,
  HIT_METRICS,
  VISIT_METRICS,
  type EngagementGroupSums,
  type Metric,
  type StatsQuery,
} from './query/stats-query.js';
import { RollupCoverageService } from './rollups/rollup-coverage.service.js';
import type { GroupSelection } from './rollups/source-plan.js';
import {
  StatsRepository,
  type GroupKey,
  type HitMetricsRow,
  type UserStatsRow,
  type VisitMetricsRow,
} from './stats.repository.js';
import type { Types } from 'mongoose';

/** One result group: its dimension values (and `time` bucket label) and the requested metrics. */
export interface ResultRow {
  key: GroupKey;
  values: MetricValues;
}

interface EngagementMetricsRow extends EngagementGroupSums {
  key: GroupKey | null;
}

/**
 * Runs a validated query: the hit pipeline for visitors/page views/events, the visit pipeline
 * for visits/bounce/duration, the hit pipeline over ALL traffic for bot share, and the engagement
 * records (ingestion's, read through its repository) for time on page and scroll depth — each
 * only when a requested metric needs it, each from its rollup when that covers the query — then
 * joins their groups by key. Every endpoint (`/api/v1/data/*`,
 * overview, timeseries, breakdown, query) goes through here, so each metric has one definition.
 */
@Injectable()
export class StatsEngine {
  constructor(
    private readonly repository: StatsRepository,
    private readonly rollups: RollupCoverageService,
    private readonly engagements: EngagementsRepository,
  ) {}

  async run(query: StatsQuery<QueryDimension>, metrics: readonly Metric[]): Promise<ResultRow[]> {
    const wants = (family: ReadonlySet<Metric>) => metrics.some((metric) => family.has(metric));
    if (wants(ENGAGEMENT_METRIC_SET)) assertEngagementReadable(query);
    const [hitRows, visitRows, allTrafficRows, engagementRows] = await Promise.all([
      wants(HIT_METRICS) ? this.hitMetrics(query, { classification: true }, metrics.includes('visitors')) : [],
      wants(VISIT_METRICS) ? this.visitMetrics(query) : [],
      metrics.includes('botShare') ? this.hitMetrics(query, { classification: false }, false) : [],
      wants(ENGAGEMENT_METRIC_SET)
        ? this.engagements.aggregateSiteRange<EngagementMetricsRow>(
            query.siteId,
            query.start,
            query.end,
            buildEngagementMetricsStages(query),
          )
        : [],
    ]);
    const fields = [...query.dimensions, ...(query.interval ? ['time'] : [])];
    const normalize = (key: GroupKey | null): GroupKey =>
      Object.fromEntries(fields.map((field) => [field, key?.[field] ?? null]));
    const hits = indexByKey(hitRows, normalize);
    const visits = indexByKey(visitRows, normalize);
    const allTraffic = indexByKey(allTrafficRows, normalize);
    const engagement = indexByKey(engagementRows, normalize);

    // Bot share or engagement alone would otherwise list no group; with hit or visit metrics they
    // only annotate those groups.
    const onlyEngagement = !wants(HIT_METRICS) && !wants(VISIT_METRICS) && !metrics.includes('botShare');
    const keySources = onlyEngagement
      ? [engagement]
      : hits.size + visits.size > 0 || !metrics.includes('botShare')
        ? [hits, visits]
        : [allTraffic];
    const keys = new Map<string, GroupKey>();
    for (const source of keySources) for (const [id, entry] of source) keys.set(id, entry.key);
    if (fields.length === 0 && keys.size === 0) keys.set(JSON.stringify({}), {});

    return [...keys].map(([id, key]) => ({
      key,
      values: deriveMetrics(
        metrics,
        hits.get(id)?.row,
        visits.get(id)?.row,
        allTraffic.get(id)?.row,
        engagement.get(id)?.row,
      ),
    }));
  }

  /** The user stats of a site, from the rollup when the site's rows are usable. */
  async userStats(siteId: Types.ObjectId, timezone: string, now: Date): Promise<UserStatsRow> {
    // User stats are all-time: the plan needs only the site and zone, not a range.
    const site: StatsQuery = {
      siteId,
      timezone,
      start: now,
      end: now,
      classification: 'ALL',
      filters: [],
      dimensions: [],
    };
    const plan = await this.rollups.plan('user-stats', site);
    if (plan.source === 'user-stats-rows')
      return this.repository.findUserStatsFromRollup({ siteId, now }, plan.rawDays);
    return this.repository.findUserStats({ siteId, now });
  }

  /**
   * From the visit-hour rollup where it covers the query (no dimension or filter), the
   * visit-source rows for one attribution dimension, else from visits.
   */
  private async visitMetrics(query: StatsQuery<QueryDimension>): Promise<VisitMetricsRow[]> {
    // The rollups hold no per-visitor filter: a behavioural filter is answered from visits.
    if (query.visitorKeys) return this.repository.aggregateVisitMetrics(query);
    const plan = await this.rollups.plan('visits', query);
    if (plan.source === 'visit-hours') return this.repository.aggregateRollupVisitMetrics(plan.query, plan.coverage);
    if (plan.source === 'visit-sources')
      return selectGroup(
        await this.repository.aggregateRollupVisitMetrics(plan.query, plan.coverage, 'visit-sources'),
        plan.select,
      );
    return this.repository.aggregateVisitMetrics(query);
  }

  /**
   * From the source the plan names (see `sourceCandidates`): the visitor counts, hit counts or
   * visitor rows where they cover the query (same numbers, far fewer documents), else raw hits.
   */
  private async hitMetrics(
    query: StatsQuery<QueryDimension>,
    options: { classification: boolean },
    withVisitors: boolean,
  ): Promise<HitMetricsRow[]> {
    // Reading every classification is the `ALL` scope of the visitor counts.
    const scoped: StatsQuery<QueryDimension> = options.classification ? query : { ...query, classification: 'ALL' };
    if (query.visitorKeys) return this.repository.aggregateHitMetrics(query, options);
    const plan = await this.rollups.plan(withVisitors ? 'visitors' : 'hit-counts', scoped);
    // `plan.query` is the query with its dimensions typed as the rollups' fixed ones.
    switch (plan.source) {
      case 'visitor-counts':
        return selectGroup(await this.repository.aggregateHitMetricsFromCounts(plan.query, plan.coverage), plan.select);
      case 'hit-counts':
        return this.repository.aggregateRollupHitCounts(plan.query, plan.coverage, options);
      case 'visitor-rows':
        return this.repository.aggregateRollupHitMetrics(plan.query, plan.coverage, options);
      default:
        return this.repository.aggregateHitMetrics(query, options);
    }
  }
}

/**
 * Engagement records are not hits: they have no event name and belong to no visit, so a query
 * grouping or filtering by those cannot have engagement figures — a 400 rather than zeros.
 */
function assertEngagementReadable(query: StatsQuery<QueryDimension>): void {
  const named = [...query.dimensions, ...query.filters.map((filter) => filter.dimension)];
  const unreadable = named.filter((dimension) => dimension === 'event_name' || dimensionLevel(dimension) === 'visit');
  if (unreadable.length > 0) {
    throw new BadRequestException(
      `metrics: time_on_page and scroll_depth cannot be grouped or filtered by ${[...new Set(unreadable)].join(', ')} ` +
        '(engagement records have no event name and belong to no visit)',
    );
  }
}

/**
 * The rows of the selected group (`GroupSelection`: a filter answered from a grouped read), the
 * dimension dropped from their keys; all rows without a selection.
 */
function selectGroup<T extends HitMetricsRow | VisitMetricsRow>(rows: T[], select: GroupSelection | undefined): T[] {
  if (!select) return rows;
  return rows
    .filter((row) => row.key?.[select.dimension] === select.value)
    .map((row) => {
      const { [select.dimension]: _selected, ...key } = row.key ?? {};
      return { ...row, key: Object.keys(key).length > 0 ? key : null };
    });
}

function indexByKey<T extends HitMetricsRow | VisitMetricsRow | EngagementMetricsRow>(
  rows: T[],
  normalize: (key: GroupKey | null) => GroupKey,
): Map<string, { key: GroupKey; row: T }> {
  const index = new Map<string, { key: GroupKey; row: T }>();
  for (const row of rows) {
    const key = normalize(row.key);
    index.set(JSON.stringify(key), { key, row });
  }
  return index;
}
