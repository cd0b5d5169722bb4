/**
 * The pure part of the "sustained" scenario: the offered rates, the open-loop schedule, and the
 * decision whether maintenance kept up with a step. Kept apart from the I/O so each rule is
 * unit-tested (keeping-up.spec.ts).
 */

/** What the issue asks of sustained ingest: stats at most two minutes behind. */
export const MAX_LAG_SECONDS = 120;
/**
 * How much the lag may rise from the middle third of a step to its last third and still count
 * as "not growing": one period of the rollup job (30 s), whose runs make the lag a sawtooth.
 */
export const LAG_GROWTH_SLACK_SECONDS = 30;
/** A sessionizer backlog this small (visitors) is noise, whatever its trend. */
export const BACKLOG_FLOOR = 500;
/** Hits accepted / offered below which the app did not take the offered rate. */
export const MIN_ACCEPTED_SHARE = 0.99;

/**
 * Parses `BENCH_SUSTAINED_RATES` ("250,500,1000"): offered hits per second, positive and
 * strictly rising (the scenario stops at the first step that does not keep up).
 */
export function parseRateSteps(text: string): number[] {
  const rates = text.split(',').map((part) => Number(part.trim()));
  rates.forEach((rate, index) => {
    if (!Number.isInteger(rate) || rate <= 0)
      throw new Error(`BENCH_SUSTAINED_RATES: "${text}" must list positive whole hits/s, e.g. 250,500,1000`);
    if (index > 0 && rate <= rates[index - 1])
      throw new Error(`BENCH_SUSTAINED_RATES: "${text}" must rise (each step offers more than the one before)`);
  });
  return rates;
}

/**
 * Open-loop schedule: how many batches of `batchSize` hits are due after `elapsedMs` at `rate`
 * hits/s, counted from the step's start, so a slow answer never lowers the offered rate.
 */
export function batchesDue(elapsedMs: number, rate: number, batchSize: number): number {
  if (elapsedMs <= 0) return 0;
  return Math.floor((elapsedMs * rate) / 1000 / batchSize);
}

/** How far behind `at` maintenance is: seconds since the instant through which it has covered every hit. */
export function lagSeconds(at: Date, coveredThrough: Date | null, firstHitAt: Date): number {
  // Before the first run covers anything, everything since the first hit is behind.
  const through = coveredThrough === null || coveredThrough < firstHitAt ? firstHitAt : coveredThrough;
  return Math.max(0, (at.getTime() - through.getTime()) / 1000);
}

export interface MaintenanceSample {
  /** Seconds since the step started. */
  atSeconds: number;
  /** Rollup lag (lagSeconds). */
  rollupLagSeconds: number;
  /** Visitors waiting for the sessionizer (null: the store did not answer this sample). */
  sessionizerBacklog: number | null;
}

export interface StepVerdict {
  keptUp: boolean;
  /** Highest rollup lag over the step's last third. */
  lagSeconds: number;
  lagGrowing: boolean;
  backlogGrowing: boolean;
  acceptedShare: number;
  /** Why it did not keep up, in words (empty when it did). */
  reasons: string[];
}

function thirds(samples: MaintenanceSample[]): [MaintenanceSample[], MaintenanceSample[]] {
  const end = samples.at(-1)?.atSeconds ?? 0;
  const middle = samples.filter((s) => s.atSeconds >= end / 3 && s.atSeconds < (2 * end) / 3);
  const last = samples.filter((s) => s.atSeconds >= (2 * end) / 3);
  return [middle, last];
}

const maxOf = (values: number[]): number => (values.length === 0 ? 0 : Math.max(...values));

function medianOf(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * A step kept up when the app accepted what was offered, the rollup lag stayed within
 * MAX_LAG_SECONDS over the step's last third, and neither the lag nor the sessionizer's backlog
 * grew from the middle third to the last: the lag compared by its maxima (the job's runs make it
 * a sawtooth whose peaks matter), the backlog by its medians (one busy moment is not a trend).
 */
export function judgeStep(step: { offered: number; accepted: number; samples: MaintenanceSample[] }): StepVerdict {
  const [middle, last] = thirds(step.samples);
  const reasons: string[] = [];
  const acceptedShare = step.offered === 0 ? 0 : step.accepted / step.offered;
  if (acceptedShare < MIN_ACCEPTED_SHARE)
    reasons.push(`accepted ${(acceptedShare * 100).toFixed(1)}% of the offered hits`);
  if (last.length === 0) reasons.push('no maintenance sample in the last third of the step');
  const lag = maxOf(last.map((s) => s.rollupLagSeconds));
  if (lag > MAX_LAG_SECONDS) reasons.push(`stats lag ${Math.round(lag)} s > ${MAX_LAG_SECONDS} s`);
  const lagGrowing = lag > maxOf(middle.map((s) => s.rollupLagSeconds)) + LAG_GROWTH_SLACK_SECONDS;
  if (lagGrowing) reasons.push('stats lag growing');
  // The backlog jumps by a batch's visitors at each write and falls at each pass: its median, not a spike, shows a trend.
  const backlog = (samples: MaintenanceSample[]): number =>
    medianOf(samples.map((s) => s.sessionizerBacklog).filter((b): b is number => b !== null));
  const middleBacklog = backlog(middle);
  const lastBacklog = backlog(last);
  const backlogGrowing = lastBacklog > BACKLOG_FLOOR && lastBacklog > 1.5 * middleBacklog;
  if (backlogGrowing) reasons.push(`sessionizer backlog growing (${middleBacklog} → ${lastBacklog} visitors)`);
  return {
    keptUp: reasons.length === 0,
    lagSeconds: Math.round(lag),
    lagGrowing,
    backlogGrowing,
    acceptedShare: Math.round(acceptedShare * 1000) / 1000,
    reasons,
  };
}

/** The highest offered rate of a run of rising steps that kept up, counting only unbroken success from the first. */
export function highestKeptUp(steps: Array<{ rate: number; verdict: StepVerdict }>): number | null {
  let best: number | null = null;
  for (const step of steps) {
    if (!step.verdict.keptUp) break;
    best = step.rate;
  }
  return best;
}
