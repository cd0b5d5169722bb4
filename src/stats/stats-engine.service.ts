import { BadRequestException, Injectable } from '@nestjs/common';
import { EngagementsRepository } from '../ingestion/engagements.repository.js';
import { buildEngagementMetricsStages } from './pipelines/engagement-metrics.pipeline.js';
import { deriveMetrics, type MetricValues } from './query/derive-metrics.js';
import { dimensionLevel, isFixedDimension, type QueryDimension } from './query/dimensions.js';
import {
  ENGAGEMENT_METRIC_SET,
  HIT_METRICS,
  VISIT_METRICS,
  type EngagementGroupSums,
  type Filter,
  type Metric,
  type StatsQuery,
} from './query/stats-query.js';
import { RollupCoverageService } from './rollups/rollup-coverage.service.js';
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
    const unsettled = await this.rollups.unsettledDays(siteId, timezone);
    if (unsettled) return this.repository.findUserStatsFromRollup({ siteId, now }, unsettled);
    return this.repository.findUserStats({ siteId, now });
  }

  /** From the visit-hour rollup where it covers the query (no dimension or filter), else from visits. */
  private async visitMetrics(query: StatsQuery<QueryDimension>): Promise<VisitMetricsRow[]> {
    const rollable = rollupCandidate(query);
    const coverage = rollable && (await this.rollups.findVisits(rollable));
    if (rollable && coverage) return this.repository.aggregateRollupVisitMetrics(rollable, coverage);
    return this.repository.aggregateVisitMetrics(query);
  }

  /**
   * From the rollups where they cover the query (same numbers, far fewer documents), else from raw
   * hits. Without visitors, counts per hour suffice; distinct visitors need visitor rows.
   */
  private async hitMetrics(
    query: StatsQuery<QueryDimension>,
    options: { classification: boolean },
    withVisitors: boolean,
  ): Promise<HitMetricsRow[]> {
    const rollable = rollupCandidate(query);
    const fromRollups = rollable && (await this.rollupHitMetrics(rollable, options, withVisitors));
    return fromRollups || this.repository.aggregateHitMetrics(query, options);
  }

  /** The hit metrics from whichever rollup covers the query, or undefined when none does. */
  private async rollupHitMetrics(
    query: StatsQuery,
    options: { classification: boolean },
    withVisitors: boolean,
  ): Promise<HitMetricsRow[] | undefined> {
    if (!withVisitors) {
      const counts = await this.rollups.findCounts(query);
      if (counts) return this.repository.aggregateRollupHitCounts(query, counts, options);
    } else if (options.classification) {
      const fromCounts = await this.hitMetricsFromCounts(query);
      if (fromCounts) return fromCounts;
    }
    const coverage = await this.rollups.find(query);
    return coverage && this.repository.aggregateRollupHitMetrics(query, coverage, options);
  }

  /**
   * Visitors, page views, events and bot hits from the visitor counts alone, when they cover the
   * query: nothing read grows with traffic (ADR 0003).
   */
  private async hitMetricsFromCounts(query: StatsQuery): Promise<HitMetricsRow[] | undefined> {
    const coverage = await this.rollups.findVisitorCounts(query);
    return coverage && this.repository.aggregateHitMetricsFromCounts(query, coverage);
  }
}

/**
 * The query as the rollups may see it, or undefined when it names a property: the one place that
 * sends such queries to raw hits and visits. Fixed dimensions without a rollup (utm_term, …) need
 * no such care: the coverage checks turn them away by name.
 */
function rollupCandidate(query: StatsQuery<QueryDimension>): StatsQuery | undefined {
  const dimensions = query.dimensions.filter(isFixedDimension);
  const filters = query.filters.filter((filter): filter is Filter => isFixedDimension(filter.dimension));
  if (dimensions.length !== query.dimensions.length || filters.length !== query.filters.length) return undefined;
  return { ...query, dimensions, filters };
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
