import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { HttpAdapterHost } from '@nestjs/core';
import { ShutdownDeadline } from '../../common/lifecycle/shutdown-deadline.js';
import type { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/configuration.js';
import type { LeaseService } from '../../database/leases/lease.service.js';
import { ROLLUP_INTERVAL_MS, RollupJob } from './rollup.job.js';

/**
 * A rollup job whose every run takes `runMs` (the lease look-up is the only step, and it waits
 * that long, then finds the lease held elsewhere) or fails after `runMs`; `starts` are the
 * moments, in ms since the job was scheduled, at which runs began.
 */
function job(runMs: number, fails = false): { job: RollupJob; starts: number[] } {
  const starts: number[] = [];
  const origin = Date.now();
  const leases = {
    acquire: () => {
      starts.push(Date.now() - origin);
      return new Promise((resolve, reject) =>
        setTimeout(() => (fails ? reject(new Error('store down')) : resolve(false)), runMs),
      );
    },
  } as unknown as LeaseService;
  const clock = { now: () => new Date() } as Clock;
  const shutdown = new ShutdownDeadline({ shutdownTimeoutMs: 8000 } as AppConfig, {} as HttpAdapterHost);
  const unused = {} as never;
  const rollupJob = new RollupJob(
    unused,
    leases,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    clock,
    shutdown,
  );
  jest.spyOn(rollupJob['logger'], 'warn').mockImplementation(() => undefined);
  return { job: rollupJob, starts };
}

/** Node (and the fake timers) wait at least 1 ms even for a 0 ms timeout: each start may come a few ms late. */
function expectStartsNear(starts: number[], expected: number[]): void {
  expect(starts).toHaveLength(expected.length);
  starts.forEach((start, index) => {
    expect(start).toBeGreaterThanOrEqual(expected[index]);
    expect(start).toBeLessThan(expected[index] + 10);
  });
}

describe('rollup job schedule', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts a run every period while runs are shorter than the period', async () => {
    jest.useFakeTimers();
    const { job: rollupJob, starts } = job(10_000);
    rollupJob.onModuleInit();
    await jest.advanceTimersByTimeAsync(4 * ROLLUP_INTERVAL_MS + 100);
    rollupJob.stopSchedule();
    expectStartsNear(
      starts,
      [1, 2, 3, 4].map((n) => n * ROLLUP_INTERVAL_MS),
    );
  });

  it('starts the next run as soon as a run longer than the period ends', async () => {
    jest.useFakeTimers();
    const { job: rollupJob, starts } = job(45_000);
    rollupJob.onModuleInit();
    await jest.advanceTimersByTimeAsync(ROLLUP_INTERVAL_MS + 3 * 45_000 + 100);
    rollupJob.stopSchedule();
    expectStartsNear(
      starts,
      [0, 1, 2, 3].map((n) => ROLLUP_INTERVAL_MS + n * 45_000),
    );
  });

  it('waits a whole period after a failed run, however long it took', async () => {
    jest.useFakeTimers();
    const { job: rollupJob, starts } = job(45_000, true);
    rollupJob.onModuleInit();
    await jest.advanceTimersByTimeAsync(ROLLUP_INTERVAL_MS + 2 * (45_000 + ROLLUP_INTERVAL_MS) + 100);
    rollupJob.stopSchedule();
    expectStartsNear(
      starts,
      [0, 1, 2].map((n) => ROLLUP_INTERVAL_MS + n * (45_000 + ROLLUP_INTERVAL_MS)),
    );
  });

  it('starts no run after stopSchedule', async () => {
    jest.useFakeTimers();
    const { job: rollupJob, starts } = job(45_000);
    rollupJob.onModuleInit();
    await jest.advanceTimersByTimeAsync(ROLLUP_INTERVAL_MS + 1000);
    rollupJob.stopSchedule();
    await jest.advanceTimersByTimeAsync(10 * ROLLUP_INTERVAL_MS);
    expect(starts).toEqual([ROLLUP_INTERVAL_MS]);
  });
});
