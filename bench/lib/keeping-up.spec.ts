import { describe, expect, it } from '@jest/globals';
import {
  batchesDue,
  highestKeptUp,
  judgeStep,
  lagSeconds,
  parseRateSteps,
  type MaintenanceSample,
  type StepVerdict,
} from './keeping-up.js';

/** Samples every 10 s over `seconds`, lag and backlog given as functions of the time. */
function samples(
  seconds: number,
  lag: (t: number) => number,
  backlog: (t: number) => number | null = () => 0,
): MaintenanceSample[] {
  return Array.from({ length: seconds / 10 + 1 }, (_, i) => ({
    atSeconds: i * 10,
    rollupLagSeconds: lag(i * 10),
    sessionizerBacklog: backlog(i * 10),
  }));
}

/** The rollup job's sawtooth: 60 s settle plus up to one 30 s period. */
const sawtooth = (t: number): number => 60 + (t % 30);

describe('parseRateSteps', () => {
  it('reads a rising list of hits per second', () => {
    expect(parseRateSteps('250, 500,1000')).toEqual([250, 500, 1000]);
  });

  it.each(['250,250', '500,250', '0,250', '250,abc', '12.5'])('refuses %p', (text) => {
    expect(() => parseRateSteps(text)).toThrow(/BENCH_SUSTAINED_RATES/);
  });
});

describe('batchesDue', () => {
  it('counts whole batches from the step start, independent of answers', () => {
    expect(batchesDue(0, 1000, 100)).toBe(0);
    expect(batchesDue(99, 1000, 100)).toBe(0);
    expect(batchesDue(100, 1000, 100)).toBe(1);
    expect(batchesDue(60_000, 250, 100)).toBe(150);
  });
});

describe('lagSeconds', () => {
  const first = new Date('2026-12-06T12:00:00Z');
  const now = new Date('2026-12-06T12:05:00Z');

  it('is now minus the covered instant', () => {
    expect(lagSeconds(now, new Date('2026-12-06T12:04:00Z'), first)).toBe(60);
  });

  it('counts from the first hit until a run covers anything after it', () => {
    expect(lagSeconds(now, null, first)).toBe(300);
    expect(lagSeconds(now, new Date('2026-12-06T11:00:00Z'), first)).toBe(300);
  });
});

describe('judgeStep', () => {
  it('keeps up: everything accepted, lag a steady sawtooth within 2 minutes, backlog flat', () => {
    const verdict = judgeStep({ offered: 30_000, accepted: 30_000, samples: samples(120, sawtooth, () => 300) });
    expect(verdict).toMatchObject({ keptUp: true, lagGrowing: false, backlogGrowing: false, reasons: [] });
    expect(verdict.lagSeconds).toBeLessThanOrEqual(90);
  });

  it('does not keep up when the lag exceeds 2 minutes', () => {
    const verdict = judgeStep({ offered: 100, accepted: 100, samples: samples(120, () => 150) });
    expect(verdict.keptUp).toBe(false);
    expect(verdict.reasons.join()).toMatch(/lag 150 s > 120 s/);
  });

  it('does not keep up when the lag grows, even below 2 minutes', () => {
    const verdict = judgeStep({ offered: 100, accepted: 100, samples: samples(300, (t) => 20 + t / 3) });
    expect(verdict.lagGrowing).toBe(true);
    expect(verdict.keptUp).toBe(false);
  });

  it('does not keep up when the sessionizer backlog grows past the noise floor', () => {
    const verdict = judgeStep({ offered: 100, accepted: 100, samples: samples(120, sawtooth, (t) => t * 100) });
    expect(verdict.backlogGrowing).toBe(true);
    expect(verdict.keptUp).toBe(false);
  });

  it('does not take one spike of the backlog for growth', () => {
    const verdict = judgeStep({
      offered: 100,
      accepted: 100,
      samples: samples(120, sawtooth, (t) => (t === 100 ? 829 : 100)),
    });
    expect(verdict.backlogGrowing).toBe(false);
    expect(verdict.keptUp).toBe(true);
  });

  it('ignores a small backlog and samples the store did not answer', () => {
    const verdict = judgeStep({
      offered: 100,
      accepted: 100,
      samples: samples(120, sawtooth, (t) => (t === 110 ? null : t)),
    });
    expect(verdict.backlogGrowing).toBe(false);
  });

  it('does not keep up when hits were refused', () => {
    const verdict = judgeStep({ offered: 1000, accepted: 900, samples: samples(120, sawtooth) });
    expect(verdict.keptUp).toBe(false);
    expect(verdict.reasons.join()).toMatch(/accepted 90.0%/);
  });

  it('needs samples to judge', () => {
    expect(judgeStep({ offered: 100, accepted: 100, samples: [] }).keptUp).toBe(false);
  });
});

describe('highestKeptUp', () => {
  const verdict = (keptUp: boolean) => ({ keptUp }) as StepVerdict;

  it('is the last rate of the unbroken run of steps that kept up', () => {
    expect(
      highestKeptUp([
        { rate: 250, verdict: verdict(true) },
        { rate: 500, verdict: verdict(true) },
        { rate: 1000, verdict: verdict(false) },
        { rate: 2000, verdict: verdict(true) },
      ]),
    ).toBe(500);
  });

  it('is null when the first step did not keep up', () => {
    expect(highestKeptUp([{ rate: 250, verdict: verdict(false) }])).toBeNull();
  });
});
