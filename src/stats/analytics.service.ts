import { BadRequestException, Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';
import type {
  BreakdownQueryDto,
  ClassifiedSiteQueryDto,
  RangeQueryDto,
  SiteQueryDto,
  TimeseriesQueryDto,
} from './dto/analytics-query.dto.js';
import type {
  BreakdownResponseDto,
  MetricNumbersDto,
  StatsMetaDto,
  OverviewResponseDto,
  OverviewResultsDto,
  QueryResponseDto,
  RealtimeResponseDto,
  TimeseriesResponseDto,
  UserStatsResponseDto,
} from './dto/analytics-response.dto.js';
import type { StatsQueryBodyDto } from './dto/query-body.dto.js';
import { previousRange } from './query/date-range.js';
import { percentChange } from './query/derive-metrics.js';
import { parseDimension, type QueryDimension } from './query/dimensions.js';
import { dimensionLabel } from './query/labels.js';
import { paginate, sortRows, type SortKey } from './query/ordering.js';
import { parseFilters, parseFiltersParameter, type ReadFilters } from './query/parse-filters.js';
import {
  ALL_METRICS,
  METRICS,
  type Metric,
  type QueryMetric,
  type QueryMetricValues,
  type StatsQuery,
} from './query/stats-query.js';
import type { DayRange } from './query/date-range.js';
import { StatsRepository, type GroupKey } from './stats.repository.js';
import { ConversionsService } from './conversions.service.js';
import { CONVERSION_METRICS, GOAL_DIMENSION, splitGoalParts } from './query/goal-query.js';
import { StatsEngine } from './stats-engine.service.js';
import { StatsScopeService } from './stats-scope.service.js';
import { bucketLabels } from './time/buckets.js';

const DEFAULT_METRICS: Metric[] = ['visitors', 'pageviews'];

/** One group of the general query: its key and the requested metrics, `percentage` included. */
export interface QueryRow {
  key: GroupKey;
  values: QueryMetricValues;
  /** Goal queries: the ISO 4217 code the row's revenue metrics are in (null when none). */
  revenueCurrency?: string | null;
}

/** The general query's answer before paging (see `AnalyticsService.queryRows`). */
export interface QueryAnswer {
  rows: QueryRow[];
  /** The grouping dimensions as requested, `goal` included. */
  dimensions: string[];
  metrics: QueryMetric[];
  range: DayRange;
  timezone: string;
  meta: StatsMetaDto;
}
const DEFAULT_LIMIT = 100;
export const REALTIME_WINDOW_MINUTES = 5;

/** Parses `metrics=visitors,pageviews`; unknown names are a 400 naming the parameter. */
export function parseMetricList(text: string | undefined, parameter = 'metrics'): Metric[] {
  if (text === undefined || text.trim() === '') return DEFAULT_METRICS;
  const names = [...new Set(text.split(',').map((name) => name.trim()))];
  for (const name of names) {
    if (!(ALL_METRICS as readonly string[]).includes(name)) {
      throw new BadRequestException(`${parameter} must be a comma-separated list of: ${ALL_METRICS.join(', ')}`);
    }
  }
  return names as Metric[];
}

/**
 * The analytics endpoints (docs/api.md): humans by default, ranges in the site's time zone, every
 * answer with `meta`. Overview, timeseries and breakdown are thin cases of the general query.
 */
@Injectable()
export class AnalyticsService {
  constructor(
    private readonly scope: StatsScopeService,
    private readonly engine: StatsEngine,
    private readonly repository: StatsRepository,
    private readonly conversions: ConversionsService,
  ) {}

  async overview(principal: Principal, params: RangeQueryDto): Promise<OverviewResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const resolved = this.scope.resolveRange(params, scope.site.timezone);
    const comparison = previousRange(resolved.range);
    const classification = params.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, params.segment, parseFiltersParameter(params.filters), {
      goalQueryRefusedBy: 'GET /api/v1/stats/overview',
    });
    const [current, previous] = await Promise.all(
      [resolved.range, comparison].map(async (range) =>
        this.engine.run(
          await this.conversions.withBehaviourFilters(
            this.scope.query(scope, range, { classification, filters: filters.filters }),
            filters.behaviours,
          ),
          METRICS,
        ),
      ),
    );
    const results = Object.fromEntries(
      METRICS.map((metric) => {
        const value = current[0]?.values[metric] ?? 0;
        const before = previous[0]?.values[metric] ?? 0;
        return [metric, { value, previous: before, change: percentChange(value, before) }];
      }),
    ) as unknown as OverviewResultsDto;
    return {
      results,
      meta: this.scope.meta(scope, resolved, { classification, filters, segment: params.segment, comparison }),
    };
  }

  async timeseries(principal: Principal, params: TimeseriesQueryDto): Promise<TimeseriesResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const resolved = this.scope.resolveRange(params, scope.site.timezone);
    const metrics = parseMetricList(params.metrics);
    const interval = params.interval ?? (resolved.period === 'day' ? 'hour' : 'day');
    const classification = params.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, params.segment, parseFiltersParameter(params.filters), {
      goalQueryRefusedBy: 'GET /api/v1/stats/timeseries',
    });
    const rows = await this.engine.run(
      await this.conversions.withBehaviourFilters(
        this.scope.query(scope, resolved.range, { classification, filters: filters.filters, interval }),
        filters.behaviours,
      ),
      metrics,
    );
    const byBucket = new Map(rows.map((row) => [row.key.time, row.values]));
    const zero = Object.fromEntries(metrics.map((metric) => [metric, 0]));
    const results = bucketLabels(resolved.range.from, resolved.range.to, interval, scope.site.timezone).map((date) => ({
      date,
      ...zero,
      ...byBucket.get(date),
    }));
    return {
      results,
      meta: this.scope.meta(scope, resolved, { classification, filters, segment: params.segment, interval }),
    };
  }

  async breakdown(principal: Principal, params: BreakdownQueryDto): Promise<BreakdownResponseDto> {
    const dimension = parseDimension(params.dimension, 'dimension');
    const scope = await this.scope.open(principal, params.siteId);
    const resolved = this.scope.resolveRange(params, scope.site.timezone);
    const metrics = parseMetricList(params.metrics);
    const classification = params.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, params.segment, parseFiltersParameter(params.filters), {
      goalQueryRefusedBy: 'GET /api/v1/stats/breakdown',
    });
    const rows = await this.engine.run(
      await this.conversions.withBehaviourFilters(
        this.scope.query(scope, resolved.range, { classification, filters: filters.filters, dimensions: [dimension] }),
        filters.behaviours,
      ),
      metrics,
    );
    const labelled = rows.map((row) => {
      const value = row.key[dimension] ?? null;
      return { value, label: dimensionLabel(dimension, value), ...(row.values as MetricNumbersDto) };
    });
    const sorted = sortRows(labelled, [
      { value: (row) => row[metrics[0]] ?? 0, direction: 'desc' },
      { value: (row) => row.label, direction: 'asc' },
    ]);
    const page = params.page ?? 1;
    const limit = params.limit ?? DEFAULT_LIMIT;
    return {
      results: paginate(sorted, page, limit),
      pagination: { page, limit, total: sorted.length },
      meta: this.scope.meta(scope, resolved, { classification, filters, segment: params.segment }),
    };
  }

  async query(principal: Principal, body: StatsQueryBodyDto): Promise<QueryResponseDto> {
    const answer = await this.queryRows(principal, body);
    const wantsRevenue = body.metrics.includes('revenueTotal') || body.metrics.includes('revenueAverage');
    const page = body.page ?? 1;
    const limit = body.limit ?? DEFAULT_LIMIT;
    return {
      results: paginate(answer.rows, page, limit).map((row) => ({
        dimensions: Object.fromEntries(answer.dimensions.map((dimension) => [dimension, row.key[dimension] ?? null])),
        ...(body.interval ? { time: row.key.time ?? undefined } : {}),
        metrics: row.values as MetricNumbersDto,
        ...(row.revenueCurrency !== undefined && wantsRevenue ? { revenueCurrency: row.revenueCurrency } : {}),
      })),
      pagination: { page, limit, total: answer.rows.length },
      meta: answer.meta,
    };
  }

  /**
   * The general query's groups, every one of them, sorted: what `POST /stats/query` pages
   * through, and what the Plausible-compatible `POST /api/v2/query` answers from.
   */
  async queryRows(principal: Principal, body: StatsQueryBodyDto): Promise<QueryAnswer> {
    const goalParts = splitGoalParts(body.dimensions, body.filters);
    const dimensions = goalParts.dimensions.map((name, index) => parseDimension(name, `dimensions[${index}]`));
    if (
      new Set(dimensions).size !== dimensions.length ||
      (body.dimensions ?? []).filter((d) => d === 'goal').length > 1
    )
      throw new BadRequestException('dimensions must not repeat');
    const requestFilters: ReadFilters = {
      filters: parseFilters(goalParts.filters),
      goalNames: goalParts.nameFilters,
      behaviours: goalParts.behaviours,
    };
    const metrics = [...new Set(body.metrics)];
    // A segment may make it a goal query: then this waits until the segment is read.
    if (!goalParts.byGoal && requestFilters.goalNames.length === 0 && body.segment === undefined) {
      this.refuseConversionMetrics(metrics);
    }
    const grouping = [...(goalParts.byGoal ? [GOAL_DIMENSION] : []), ...dimensions];
    const sortKeys = this.sortKeys(body, metrics, grouping);
    if (metrics.includes('percentage') && dimensions.length === 0 && !body.interval) {
      throw new BadRequestException('metrics: percentage needs at least one dimension or an interval');
    }
    const scope = await this.scope.open(principal, body.siteId);
    const resolved = this.scope.resolveRange(body.dateRange ?? {}, scope.site.timezone, {
      from: 'dateRange.from',
      to: 'dateRange.to',
      period: 'dateRange.period',
    });
    const classification = body.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, body.segment, requestFilters);
    const goalQuery = goalParts.byGoal || filters.goalNames.length > 0;
    if (!goalQuery) this.refuseConversionMetrics(metrics);
    const plain = this.scope.query(scope, resolved.range, {
      classification,
      filters: filters.filters,
      dimensions,
      interval: body.interval,
    });
    const goals = goalQuery || filters.behaviours.length > 0 ? await this.conversions.siteGoals(scope.site.id) : [];
    const query = await this.conversions.withBehaviours(plain, filters.behaviours, goals);
    const engineMetrics = metrics.filter((metric): metric is Metric =>
      (ALL_METRICS as readonly string[]).includes(metric),
    );
    let rows: QueryRow[];
    if (goalQuery)
      rows = await this.conversions.run(
        query,
        goals,
        { byGoal: goalParts.byGoal, nameFilters: filters.goalNames },
        metrics,
      );
    else if (metrics.includes('percentage')) rows = await this.withPercentage(query, engineMetrics, metrics);
    else rows = await this.engine.run(query, engineMetrics);
    return {
      rows: sortRows(rows, sortKeys),
      dimensions: grouping,
      metrics,
      range: resolved.range,
      timezone: scope.site.timezone,
      meta: this.scope.meta(scope, resolved, {
        classification,
        filters,
        segment: body.segment,
        interval: body.interval,
      }),
    };
  }

  /** Conversion metrics need a goal query: a 400 naming them when the query is none. */
  private refuseConversionMetrics(metrics: QueryMetric[]): void {
    const conversionMetrics = metrics.filter((metric) => (CONVERSION_METRICS as readonly string[]).includes(metric));
    if (conversionMetrics.length > 0) {
      throw new BadRequestException(
        `metrics: ${conversionMetrics.join(', ')} can only be queried with a goal dimension or a goal filter`,
      );
    }
  }

  /**
   * Adds `percentage`: a group's visitors as a share of all visitors of the query without its
   * dimensions and interval (Plausible's definition), in percent with one decimal.
   */
  private async withPercentage(
    query: StatsQuery<QueryDimension>,
    engineMetrics: Metric[],
    requested: QueryMetric[],
  ): Promise<QueryRow[]> {
    const [rows, totals] = await Promise.all([
      this.engine.run(query, [...new Set<Metric>([...engineMetrics, 'visitors'])]),
      this.engine.run({ ...query, dimensions: [], interval: undefined }, ['visitors']),
    ]);
    const total = totals[0]?.values.visitors ?? 0;
    return rows.map((row) => {
      const visitors = row.values.visitors ?? 0;
      const values: QueryMetricValues = {};
      for (const metric of requested) {
        values[metric] =
          metric === 'percentage'
            ? total > 0
              ? Math.round((visitors / total) * 1000) / 10
              : 0
            : row.values[metric as Metric];
      }
      return { key: row.key, values };
    });
  }

  async realtime(principal: Principal, params: ClassifiedSiteQueryDto): Promise<RealtimeResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const now = this.scope.now();
    const classification = params.classification ?? 'USER';
    const row = await this.repository.findRealtime({
      siteId: scope.siteId,
      now,
      windowMinutes: REALTIME_WINDOW_MINUTES,
      classification,
    });
    return {
      ...row,
      meta: {
        siteId: scope.site.id,
        domain: scope.site.domain,
        since: new Date(now.getTime() - REALTIME_WINDOW_MINUTES * 60_000).toISOString(),
        until: now.toISOString(),
        windowMinutes: REALTIME_WINDOW_MINUTES,
        visitorIdMode: this.scope.visitorIdMode,
        classification,
      },
    };
  }

  async userStats(principal: Principal, params: SiteQueryDto): Promise<UserStatsResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const now = this.scope.now();
    const stats = await this.engine.userStats(scope.siteId, scope.site.timezone, now);
    return {
      ...stats,
      meta: {
        siteId: scope.site.id,
        domain: scope.site.domain,
        now: now.toISOString(),
        visitorIdMode: this.scope.visitorIdMode,
      },
    };
  }

  /** `orderBy` fields must be requested metrics, requested dimensions or `time`; default: first metric desc. */
  private sortKeys(body: StatsQueryBodyDto, metrics: QueryMetric[], dimensions: string[]): SortKey<QueryRow>[] {
    const keyFor = (field: string, index: number): SortKey<QueryRow>['value'] => {
      if ((metrics as string[]).includes(field)) return (row) => row.values[field as QueryMetric] ?? 0;
      if ((dimensions as string[]).includes(field) || (field === 'time' && body.interval))
        return (row) => row.key[field] ?? null;
      throw new BadRequestException(`orderBy[${index}].field must be one of the requested metrics or dimensions`);
    };
    const explicit = (body.orderBy ?? []).map((order, index) => ({
      value: keyFor(order.field, index),
      direction: order.direction,
    }));
    const fallback: SortKey<QueryRow>[] = [
      ...(body.interval && explicit.length === 0
        ? [{ value: (row: QueryRow) => row.key.time ?? null, direction: 'asc' as const }]
        : []),
      { value: (row) => row.values[metrics[0]] ?? 0, direction: 'desc' },
      ...dimensions.map((dimension) => ({
        value: (row: QueryRow) => row.key[dimension] ?? null,
        direction: 'asc' as const,
      })),
    ];
    return [...explicit, ...fallback];
  }
}
