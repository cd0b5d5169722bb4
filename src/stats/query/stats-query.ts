import type { Types } from 'mongoose';
import type { Classification } from '../../ingestion/schemas/hit.schema.js';
import type { Dimension } from './dimensions.js';

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
export type Metric = (typeof METRICS)[number];

/** Metrics computed from hits (as opposed to from visits). */
export const HIT_METRICS: ReadonlySet<Metric> = new Set(['visitors', 'pageviews', 'events']);
/** Metrics computed from the visits that started in the range. */
export const VISIT_METRICS: ReadonlySet<Metric> = new Set(['visits', 'viewsPerVisit', 'bounceRate', 'visitDuration']);

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

export const FILTER_OPERATORS = ['is', 'is_not', 'contains', 'not_contains'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** A validated filter: operator and dimension from the allow-lists, values plain strings. */
export interface Filter {
  operator: FilterOperator;
  dimension: Dimension;
  values: string[];
}

/** `ALL` means no classification filter. */
export type ClassificationFilter = Classification | 'ALL';

/**
 * A validated, normalized stats query: the only input the pipeline builders accept. The range is
 * `[start, end)` in UTC, already converted from calendar days in the site's time zone.
 */
export interface StatsQuery {
  siteId: Types.ObjectId;
  timezone: string;
  start: Date;
  end: Date;
  classification: ClassificationFilter;
  filters: Filter[];
  dimensions: Dimension[];
  /** When set, results are also grouped by this time bucket (in the site's time zone). */
  interval?: Interval;
}

/** Raw sums per group as the pipelines return them; metrics are derived from these. */
export interface HitGroupSums {
  visitors: number;
  pageviews: number;
  events: number;
  botHits: number;
}

export interface VisitGroupSums {
  visits: number;
  bounces: number;
  durationSeconds: number;
  visitPageviews: number;
}
