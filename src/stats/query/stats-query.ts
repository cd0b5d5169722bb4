import type { Types } from 'mongoose';
import type { Classification } from '../../hits/hit.schema.js';
import type { Dimension, QueryDimension } from './dimensions.js';
import { CONVERSION_METRICS } from './goal-query.js';

export const METRICS = [
  'visitors',
  'visits',
  'pageviews',
  'viewsPerVisit',
  'bounceRate',
  'visitDuration',
  'events',
  'botShare',
] as const;

/**
 * Engagement metrics, from the engagement records (not hits): `time_on_page` in seconds and
 * `scroll_depth` in percent. Not among the overview's headline metrics.
 */
export const ENGAGEMENT_METRICS = ['time_on_page', 'scroll_depth'] as const;

/** Every metric the engine computes. */
export const ALL_METRICS = [...METRICS, ...ENGAGEMENT_METRICS] as const;
export type Metric = (typeof ALL_METRICS)[number];
export const ENGAGEMENT_METRIC_SET: ReadonlySet<Metric> = new Set(ENGAGEMENT_METRICS);

/**
 * What the general query accepts: the engine's metrics and `percentage`, which the query works
 * out from two engine runs (a group's visitors over the visitors of all groups).
 */
export const QUERY_METRICS = [...ALL_METRICS, 'percentage', ...CONVERSION_METRICS] as const;
export type QueryMetric = (typeof QUERY_METRICS)[number];
/** Revenue metrics are null where the goals report no revenue (or in several currencies). */
export type QueryMetricValues = Partial<Record<QueryMetric, number | null>>;

/** Metrics computed from hits (as opposed to from visits). */
export const HIT_METRICS: ReadonlySet<Metric> = new Set(['visitors', 'pageviews', 'events']);
/** Metrics computed from the visits that started in the range. */
export const VISIT_METRICS: ReadonlySet<Metric> = new Set(['visits', 'viewsPerVisit', 'bounceRate', 'visitDuration']);

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

export const FILTER_OPERATORS = ['is', 'is_not', 'contains', 'not_contains'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/**
 * A validated filter: operator and dimension from the allow-lists, values plain strings. `D` is
 * `Dimension` where only fixed dimensions can occur (the rollups), `QueryDimension` where a
 * property may too (the raw-hit pipelines).
 */
export interface Filter<D extends QueryDimension = Dimension> {
  operator: FilterOperator;
  dimension: D;
  values: string[];
}

/** `ALL` means no classification filter. */
export type ClassificationFilter = Classification | 'ALL';

/**
 * A validated, normalized stats query: the only input the pipeline builders accept. The range is
 * `[start, end)` in UTC, already converted from calendar days in the site's time zone. As a
 * caller gives it, it may name properties (`StatsQuery<QueryDimension>`); the rollups only ever
 * see one without (`StatsQuery`), see StatsEngine.
 */
export interface StatsQuery<D extends QueryDimension = Dimension> {
  siteId: Types.ObjectId;
  timezone: string;
  start: Date;
  end: Date;
  classification: ClassificationFilter;
  filters: Filter<D>[];
  dimensions: D[];
  /** When set, results are also grouped by this time bucket (in the site's time zone). */
  interval?: Interval;
  /**
   * Behavioural filters (`has_done` / `has_not_done` a goal), resolved to visitor keys: only hits
   * and visits of visitors in `only` (when given) and not in `except`. The rollups know nothing
   * of these, so a query with them is always answered from raw hits (see StatsEngine).
   */
  visitorKeys?: VisitorKeySet;
}

export interface VisitorKeySet {
  only?: string[];
  except?: string[];
}

/** The `visitorKey` conditions of a visitor set, on `prefix + visitorKey`. */
export function visitorKeyConditions(set: VisitorKeySet | undefined, prefix = ''): Record<string, unknown>[] {
  if (!set) return [];
  const path = `${prefix}visitorKey`;
  return [
    ...(set.only ? [{ [path]: { $in: set.only } }] : []),
    ...(set.except && set.except.length > 0 ? [{ [path]: { $nin: set.except } }] : []),
  ];
}

/** Raw sums per group as the pipelines return them; metrics are derived from these. */
export interface HitGroupSums {
  visitors: number;
  pageviews: number;
  events: number;
  botHits: number;
}

/** Per group: visitors with an engagement record, their engagement time (ms) and the sum of each one's deepest scroll. */
export interface EngagementGroupSums {
  engagedVisitors: number;
  engagementMs: number;
  scrollDepthSum: number;
}

export interface VisitGroupSums {
  visits: number;
  bounces: number;
  durationSeconds: number;
  visitPageviews: number;
}
