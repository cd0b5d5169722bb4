/**
 * A brute-force funnel evaluation in plain TypeScript, from the raw hits alone, for the funnel
 * property test: visits are rebuilt here from each visitor's hits (a gap longer than the idle
 * time starts a new visit), never read from the `visits` collection or the hits' `visitId`,
 * and each visit's deepest step is found by trying every way of picking hits in order.
 */

export interface OracleHit {
  visitorKey: string;
  ts: Date;
  name: string;
  path: string;
  browser: string | null;
  props?: Record<string, unknown> | null;
}

export type OracleGoal = { pagePath: string } | { eventName: string; property?: { key: string; value: string } };

/** A hit-level condition, or a condition on the hit's visit (its entry page). */
export type OracleFilter =
  | { on: 'hit'; test: (hit: OracleHit) => boolean }
  | { on: 'visit'; test: (visit: { entryPath: string | null }) => boolean };

export interface OracleFigures {
  visitors: number;
  steps: Array<{
    visitors: number;
    dropoff: number;
    dropoffPercentage: number;
    conversionRate: number;
    conversionRateStep: number;
  }>;
}

function matches(goal: OracleGoal, hit: OracleHit): boolean {
  if ('pagePath' in goal) {
    if (hit.name !== 'pageview') return false;
    const parts = goal.pagePath.split('*');
    // Wildcards: the path starts with the first part, ends with the last, and holds the middle ones in order.
    if (parts.length === 1) return hit.path === goal.pagePath;
    let rest = hit.path;
    if (!rest.startsWith(parts[0])) return false;
    rest = rest.slice(parts[0].length);
    const last = parts[parts.length - 1];
    for (const middle of parts.slice(1, -1)) {
      const at = rest.indexOf(middle);
      if (at < 0) return false;
      rest = rest.slice(at + middle.length);
    }
    return rest.length >= last.length && rest.endsWith(last);
  }
  if (hit.name !== goal.eventName) return false;
  if (!goal.property) return true;
  const value = hit.props?.[goal.property.key];
  return value !== undefined && value !== null && String(value) === goal.property.value;
}

/** Whether hits[from..] contain hits completing steps[step..] in order (each hit used once). */
function completes(hits: OracleHit[], steps: OracleGoal[], step: number, from: number): boolean {
  if (step === steps.length) return true;
  for (let index = from; index < hits.length; index++) {
    if (matches(steps[step], hits[index]) && completes(hits, steps, step + 1, index + 1)) return true;
  }
  return false;
}

function deepestStep(hits: OracleHit[], steps: OracleGoal[]): number {
  for (let depth = steps.length; depth > 0; depth--) {
    if (completes(hits, steps.slice(0, depth), 0, 0)) return depth;
  }
  return 0;
}

const percent = (part: number, whole: number) => (whole === 0 ? 0 : Number(((part * 100) / whole).toFixed(2)));

export function evaluateFunnel(input: {
  hits: OracleHit[];
  idleMinutes: number;
  start: Date;
  end: Date;
  filters: OracleFilter[];
  steps: OracleGoal[];
}): OracleFigures {
  const byVisitor = new Map<string, OracleHit[]>();
  for (const hit of input.hits) byVisitor.set(hit.visitorKey, [...(byVisitor.get(hit.visitorKey) ?? []), hit]);
  const everyone = new Set<string>();
  const deepest = new Map<string, number>();
  for (const [visitor, all] of byVisitor) {
    const sorted = [...all].sort((a, b) => a.ts.getTime() - b.ts.getTime());
    const visits: OracleHit[][] = [];
    for (const hit of sorted) {
      const current = visits[visits.length - 1];
      const previous = current?.[current.length - 1];
      if (!previous || hit.ts.getTime() - previous.ts.getTime() > input.idleMinutes * 60_000) visits.push([hit]);
      else current.push(hit);
    }
    for (const visit of visits) {
      const entryPath = visit.find((hit) => hit.name === 'pageview')?.path ?? null;
      const counted = visit.filter(
        (hit) =>
          hit.ts >= input.start &&
          hit.ts < input.end &&
          input.filters.every((filter) => (filter.on === 'hit' ? filter.test(hit) : filter.test({ entryPath }))),
      );
      if (counted.length === 0) continue;
      everyone.add(visitor);
      deepest.set(visitor, Math.max(deepest.get(visitor) ?? 0, deepestStep(counted, input.steps)));
    }
  }
  const reached = input.steps.map((_, index) => [...deepest.values()].filter((depth) => depth > index).length);
  return {
    visitors: everyone.size,
    steps: reached.map((visitors, index) => {
      const previous = index === 0 ? null : reached[index - 1];
      const dropoff = previous === null ? 0 : previous - visitors;
      return {
        visitors,
        dropoff,
        dropoffPercentage: previous === null ? 0 : percent(dropoff, previous),
        conversionRate: percent(visitors, reached[0]),
        conversionRateStep: percent(visitors, previous ?? reached[0]),
      };
    }),
  };
}
