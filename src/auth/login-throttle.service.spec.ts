import { HttpException } from '@nestjs/common';
import { describe, expect, it } from '@jest/globals';
import { FixedClock } from '../common/time/clock.js';
import type { AuthConfig } from '../config/configuration.js';
import type { LoginFailuresRepository } from './login-failures.repository.js';
import { LoginThrottleService } from './login-throttle.service.js';

const WINDOW_MS = 15 * 60 * 1000;

/** In-memory stand-in with the repository's per-document semantics (each call is one atomic update). */
class FakeFailures implements Pick<
  LoginFailuresRepository,
  'reserve' | 'release' | 'recordFailure' | 'releaseAndClear' | 'increment' | 'clear'
> {
  readonly buckets = new Map<string, { count: number; pending: number }>();

  reserve(bucket: string): Promise<number> {
    const document = this.buckets.get(bucket) ?? { count: 0, pending: 0 };
    document.pending++;
    this.buckets.set(bucket, document);
    return Promise.resolve(document.count + document.pending);
  }
  release(bucket: string): Promise<void> {
    return this.endReservation(bucket, () => undefined);
  }
  recordFailure(bucket: string): Promise<void> {
    return this.endReservation(bucket, (document) => document.count++);
  }
  releaseAndClear(bucket: string): Promise<void> {
    return this.endReservation(bucket, (document) => (document.count = 0));
  }
  increment(bucket: string): Promise<void> {
    const document = this.buckets.get(bucket) ?? { count: 0, pending: 0 };
    document.count++;
    this.buckets.set(bucket, document);
    return Promise.resolve();
  }
  clear(bucket: string): Promise<void> {
    const document = this.buckets.get(bucket);
    if (document) document.count = 0;
    return Promise.resolve();
  }

  /** `[count, pending]` of every bucket whose name starts with `prefix`, in insertion order. */
  totals(prefix: 'ip' | 'account'): [number, number][] {
    return [...this.buckets]
      .filter(([bucket]) => bucket.startsWith(prefix))
      .map(([, document]) => [document.count, document.pending]);
  }

  private endReservation(bucket: string, change: (document: { count: number; pending: number }) => void) {
    const document = this.buckets.get(bucket);
    if (document && document.pending > 0) {
      document.pending--;
      change(document);
    }
    return Promise.resolve();
  }
}

function setup() {
  const clock = new FixedClock(new Date(100 * WINDOW_MS));
  const failures = new FakeFailures();
  const config = {
    jwtSecret: 'unit-test-secret-0123456789abcdef',
    loginMaxFailuresPerAccount: 2,
    loginMaxFailuresPerIp: 3,
    loginThrottleWindowSeconds: WINDOW_MS / 1000,
  } as AuthConfig;
  const throttle = new LoginThrottleService(failures as unknown as LoginFailuresRepository, clock, config);
  return { clock, failures, throttle };
}

const refused = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => (error instanceof HttpException ? error.getStatus() : error),
  );

describe('LoginThrottleService', () => {
  it('refuses without counting: an IP refusal never touches the account, an account refusal is undone on both', async () => {
    const { failures, throttle } = setup();
    for (const email of ['a@x.test', 'b@x.test', 'c@x.test']) {
      await throttle.recordFailure(await throttle.reserve('10.0.0.1', email));
    }
    expect(await refused(throttle.reserve('10.0.0.1', 'd@x.test'))).toBe(429);
    expect(failures.totals('ip')).toEqual([[3, 0]]);
    expect(failures.totals('account')).toEqual([
      [1, 0],
      [1, 0],
      [1, 0],
    ]);

    await throttle.recordFailure(await throttle.reserve('10.0.0.2', 'a@x.test'));
    expect(await refused(throttle.reserve('10.0.0.2', 'a@x.test'))).toBe(429);
    expect(failures.totals('ip')).toEqual([
      [3, 0],
      [1, 0],
    ]);
    expect(failures.totals('account')[0]).toEqual([2, 0]);
  });

  it('admits at most the limit while earlier attempts are still undecided', async () => {
    const { throttle } = setup();
    const admitted = [await throttle.reserve('10.0.0.1', 'a@x.test'), await throttle.reserve('10.0.0.1', 'a@x.test')];
    expect(await refused(throttle.reserve('10.0.0.1', 'a@x.test'))).toBe(429);
    // An undecided attempt that turns out fine frees its place.
    await throttle.release(admitted[0]);
    await throttle.recordFailure(await throttle.reserve('10.0.0.1', 'a@x.test'));
    expect(await refused(throttle.reserve('10.0.0.1', 'a@x.test'))).toBe(429);
  });

  it('on success clears the account count, not the IP count', async () => {
    const { failures, throttle } = setup();
    await throttle.recordFailure(await throttle.reserve('10.0.0.1', 'a@x.test'));
    await throttle.recordFailure(await throttle.reserve('10.0.0.1', 'a@x.test'));
    expect(await refused(throttle.reserve('10.0.0.1', 'a@x.test'))).toBe(429);
    await throttle.recordSuccess(await throttle.reserve('10.0.0.1', 'b@x.test'));
    expect(failures.totals('account')).toEqual([
      [2, 0],
      [0, 0],
    ]);
    expect(failures.totals('ip')).toEqual([[2, 0]]);
  });

  it('keeps an undecided attempt reserved when another login on the account succeeds', async () => {
    const { failures, throttle } = setup();
    const guess = await throttle.reserve('10.0.0.2', 'a@x.test');
    const owner = await throttle.reserve('10.0.0.3', 'a@x.test');
    await throttle.recordSuccess(owner);
    expect(failures.totals('account')).toEqual([[0, 1]]);
    await throttle.recordFailure(guess);
    expect(failures.totals('account')).toEqual([[1, 0]]);
    expect(failures.totals('ip')).toEqual([
      [1, 0],
      [0, 0],
    ]);
  });

  it('counts a failure in the window current when it is recorded, as when failures were counted after the check', async () => {
    const { clock, failures, throttle } = setup();
    const attempt = await throttle.reserve('10.0.0.1', 'a@x.test');
    clock.advance(WINDOW_MS);
    await throttle.recordFailure(attempt);
    expect(failures.totals('account')).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(failures.totals('ip')).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });

  it('on success across a window boundary drops the reservation and clears the current window', async () => {
    const { clock, failures, throttle } = setup();
    const attempt = await throttle.reserve('10.0.0.1', 'a@x.test');
    clock.advance(WINDOW_MS);
    await throttle.recordFailure(await throttle.reserve('10.0.0.2', 'a@x.test'));
    await throttle.recordSuccess(attempt);
    expect(failures.totals('account')).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });
});
