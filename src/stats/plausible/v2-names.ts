import type { Dimension } from '../query/dimensions.js';
import type { Interval, QueryMetric } from '../query/stats-query.js';

/**
 * Plausible Stats API v2 names and Siteline's. Plausible's names stay at this edge: everything
 * past the translation speaks Siteline's own query.
 */

/** v2 metric → Siteline metric. */
export const V2_METRICS: Readonly<Record<string, QueryMetric>> = {
  visitors: 'visitors',
  visits: 'visits',
  pageviews: 'pageviews',
  views_per_visit: 'viewsPerVisit',
  bounce_rate: 'bounceRate',
  visit_duration: 'visitDuration',
  events: 'events',
  percentage: 'percentage',
  conversion_rate: 'conversionRate',
  group_conversion_rate: 'groupConversionRate',
  total_revenue: 'revenueTotal',
  average_revenue: 'revenueAverage',
  time_on_page: 'time_on_page',
  scroll_depth: 'scroll_depth',
};

/** v2 metrics Siteline does not compute, each with why (named in the 400). */
export const V2_UNSUPPORTED_METRICS: Readonly<Record<string, string>> = {
  exit_rate: 'Siteline does not compute exit rates',
};

/** v2 dimension (and filter dimension) → Siteline dimension; `event:props:<key>` is handled apart. */
export const V2_DIMENSIONS: Readonly<Record<string, Dimension>> = {
  'event:name': 'event_name',
  'event:page': 'page',
  'event:hostname': 'page_host',
  'visit:entry_page': 'entry_page',
  'visit:exit_page': 'exit_page',
  'visit:source': 'source',
  'visit:referrer': 'referrer',
  'visit:utm_source': 'utm_source',
  'visit:utm_medium': 'utm_medium',
  'visit:utm_campaign': 'utm_campaign',
  'visit:utm_term': 'utm_term',
  'visit:utm_content': 'utm_content',
  'visit:device': 'device',
  'visit:browser': 'browser',
  'visit:os': 'os',
  'visit:country': 'country',
  'visit:region': 'region',
  'visit:city': 'city',
  'visit:country_name': 'country',
  'visit:region_name': 'region',
  'visit:city_name': 'city',
};

export const V2_UNSUPPORTED_DIMENSIONS: Readonly<Record<string, string>> = {
  'visit:channel': 'Siteline does not classify acquisition channels',
  'visit:screen': 'Siteline does not record screen sizes',
  'visit:browser_version': 'Siteline does not record browser versions',
  'visit:os_version': 'Siteline does not record OS versions',
  'visit:entry_page_hostname': 'Siteline does not record entry page hosts',
  'visit:exit_page_hostname': 'Siteline does not record exit page hosts',
};

export const V2_PROPS_PREFIX = 'event:props:';
/** v2's goal dimension; Siteline's general query calls it `goal`. */
export const V2_GOAL_DIMENSION = 'event:goal';
/** v2 revenue metrics, answered as Plausible's `{ short, long, value, currency }` objects. */
export const V2_REVENUE_METRICS: ReadonlySet<string> = new Set(['total_revenue', 'average_revenue']);

/** v2 time dimensions → Siteline interval; plain `time` picks one from the range's length. */
export const V2_TIME_DIMENSIONS: Readonly<Record<string, Interval | 'auto'>> = {
  time: 'auto',
  'time:hour': 'hour',
  'time:day': 'day',
  'time:week': 'week',
  'time:month': 'month',
};

/** What Plausible shows for a missing value of these dimensions (its `(not set)`, `Direct / None`, `(none)`). */
export function v2MissingLabel(v2Dimension: string): string | null {
  if (v2Dimension.startsWith(V2_PROPS_PREFIX)) return '(none)';
  if (v2Dimension === 'visit:source' || v2Dimension === 'visit:referrer') return 'Direct / None';
  if (/^visit:(utm_|device$|browser$|os$)/.test(v2Dimension)) return '(not set)';
  return null;
}
