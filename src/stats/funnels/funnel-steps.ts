/** One step's figures (Plausible's funnel definitions). */
export interface FunnelStepFigures {
  /** Visitors who completed this step and every one before it, in order, within one visit. */
  visitors: number;
  /** Visitors of the previous step who did not complete this one; 0 for the first step. */
  dropoff: number;
  /** `dropoff` as a percentage of the previous step's visitors; 0 for the first step. */
  dropoffPercentage: number;
  /** This step's visitors as a percentage of the first step's. */
  conversionRate: number;
  /** This step's visitors as a percentage of the previous step's; the first step's is its `conversionRate`. */
  conversionRateStep: number;
}

/** A percentage with two decimals; 0 of nothing is 0 (no division by zero, no NaN). */
export function percentage(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 100 : 0;
}

/**
 * From visitors per deepest level (what the funnel pipeline counts) to each step's figures: a
 * visitor whose deepest level is k entered every step up to k, so a step's visitors are the sum
 * over levels from its own up ("backfill", as Plausible computes it from ClickHouse's windowFunnel).
 */
export function funnelStepFigures(
  visitorsByLevel: ReadonlyMap<number, number>,
  stepCount: number,
): FunnelStepFigures[] {
  const reached: number[] = [];
  for (let step = stepCount; step >= 1; step--) {
    reached[step] = (reached[step + 1] ?? 0) + (visitorsByLevel.get(step) ?? 0);
  }
  const first = reached[1] ?? 0;
  return Array.from({ length: stepCount }, (_, index) => {
    const visitors = reached[index + 1];
    const previous = index === 0 ? undefined : reached[index];
    const dropoff = previous === undefined ? 0 : previous - visitors;
    return {
      visitors,
      dropoff,
      dropoffPercentage: previous === undefined ? 0 : percentage(dropoff, previous),
      conversionRate: percentage(visitors, first),
      conversionRateStep: percentage(visitors, previous ?? first),
    };
  });
}
