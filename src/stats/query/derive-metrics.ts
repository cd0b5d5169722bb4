import type { EngagementGroupSums, HitGroupSums, Metric, VisitGroupSums } from './stats-query.js';

export type MetricValues = Partial<Record<Metric, number>>;

const round = (value: number, digits: number) => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/**
 * The metric definitions (docs/metrics.md, Plausible's conventions) from a group's raw sums:
 * - viewsPerVisit = page views of the visits ÷ visits (2 decimals),
 * - bounceRate = % of visits with exactly one page view (1 decimal),
 * - visitDuration = mean of (last − first hit) over visits, whole seconds,
 * - botShare = % of all hits that are BOT, whatever the classification filter (1 decimal),
 * - time_on_page = engagement time ÷ visitors with an engagement record, whole seconds,
 * - scroll_depth = mean over those visitors of each one's deepest scroll, whole percent
 *   (both as Plausible defines them; see docs/metrics-engagement.md).
 * A ratio with nothing to divide by is 0.
 */
export function deriveMetrics(
  metrics: readonly Metric[],
  hits: HitGroupSums | undefined,
  visits: VisitGroupSums | undefined,
  allTraffic: HitGroupSums | undefined,
  engagement?: EngagementGroupSums,
): MetricValues {
  const engaged = engagement?.engagedVisitors ?? 0;
  const visitCount = visits?.visits ?? 0;
  const ratio = (numerator: number, denominator: number) => (denominator > 0 ? numerator / denominator : 0);
  const values: Record<Metric, () => number> = {
    visitors: () => hits?.visitors ?? 0,
    pageviews: () => hits?.pageviews ?? 0,
    events: () => hits?.events ?? 0,
    visits: () => visitCount,
    viewsPerVisit: () => round(ratio(visits?.visitPageviews ?? 0, visitCount), 2),
    bounceRate: () => round(ratio(visits?.bounces ?? 0, visitCount) * 100, 1),
    visitDuration: () => Math.round(ratio(visits?.durationSeconds ?? 0, visitCount)),
    botShare: () => round(ratio(allTraffic?.botHits ?? 0, allTraffic?.events ?? 0) * 100, 1),
    time_on_page: () => Math.round(ratio(engagement?.engagementMs ?? 0, engaged) / 1000),
    scroll_depth: () => Math.round(ratio(engagement?.scrollDepthSum ?? 0, engaged)),
  };
  const result: MetricValues = {};
  for (const metric of metrics) result[metric] = values[metric]();
  return result;
}

/** Percent change from `previous` to `value` (1 decimal); null when there is no previous value to compare with. */
export function percentChange(value: number, previous: number): number | null {
  if (previous === 0) return null;
  return round(((value - previous) / previous) * 100, 1);
}
