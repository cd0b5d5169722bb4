import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { TestingModuleBuilder } from '@nestjs/testing';
import request from 'supertest';
import { LoginThrottleService } from '../../src/auth/login-throttle.service.js';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { BOOTSTRAP_ADMIN, bootstrapAdminEnv } from '../factories/users.js';

const WINDOW_MS = 15 * 60 * 1000;

describe('auth: login throttling shared by two app instances', () => {
  // Starts on a window boundary, so Retry-After is exactly predictable, and in the future: the
  // counters' TTL index expires documents by real time, so a pinned past clock would lose them.
  const clock = new FixedClock(new Date((Math.ceil(Date.now() / WINDOW_MS) + 1) * WINDOW_MS));
  let first: TestApp;
  let second: TestApp;

  const attempt = (app: TestApp, email: string, password: string) =>
    request(app.url).post('/api/v1/auth/login').send({ email, password });

  beforeAll(async () => {
    // Instances of one deployment share JWT_SECRET (it also keys the counters' hashes).
    const env = {
      ...bootstrapAdminEnv,
      JWT_SECRET: 'a-shared-secret-for-both-instances-0123456789',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
      LOGIN_MAX_FAILURES_PER_IP: '5',
      LOGIN_THROTTLE_WINDOW: '15m',
    };
    const override = (builder: TestingModuleBuilder) => builder.overrideProvider(Clock).useValue(clock);
    first = await startTestApp({ env, override });
    second = await startTestApp({ env, override, database: first.database });
  });

  beforeEach(() => {
    // Every test starts in a fresh window.
    clock.advance(WINDOW_MS);
  });

  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('blocks an account after 3 failures across both instances, even with the right password, with Retry-After', async () => {
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password-1').expect(401);
    await attempt(second, BOOTSTRAP_ADMIN.email, 'wrong-password-2').expect(401);
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password-3').expect(401);
    clock.advance(5 * 60 * 1000);
    const blocked = await attempt(second, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password).expect(429);
    expect(blocked.headers['retry-after']).toBe('600');
    expect(blocked.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Too many failed logins; try again later',
    });
    clock.advance(10 * 60 * 1000);
    await attempt(first, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password).expect(200);
  });

  it('counts unknown emails like wrong passwords, and blocks the IP after 5 failures on any accounts', async () => {
    for (let index = 0; index < 5; index++) {
      await attempt(index % 2 ? first : second, `nobody-${index}@siteline.test`, 'some-password').expect(401);
    }
    const blocked = await attempt(first, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password).expect(429);
    expect(Number(blocked.headers['retry-after'])).toBe(WINDOW_MS / 1000);
  });

  it('clears the account count on success', async () => {
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password-1').expect(401);
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password-2').expect(401);
    await attempt(second, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password).expect(200);
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password-3').expect(401);
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password-4').expect(401);
    await attempt(second, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password).expect(200);
  });

  // Counting happens before the password is checked: a burst of parallel guesses must not all get
  // their password tried because each one read the count before any of the others was recorded.
  const burst = async (emailFor: (index: number) => string, size = 20) => {
    const responses = await Promise.all(
      Array.from({ length: size }, (_, index) =>
        attempt(index % 2 ? first : second, emailFor(index), `wrong-password-${index}`),
      ),
    );
    const statuses = responses.map((response) => response.status);
    const refused = responses.filter((response) => response.status === 429);
    expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
    for (const response of refused) expect(response.headers['retry-after']).toBe(String(WINDOW_MS / 1000));
    return { tried: size - refused.length, refused: refused.length };
  };

  /** The counters of the current window (or of the one `windowsAgo` before it). */
  const storedCounters = async (kind: 'ip' | 'account', windowsAgo = 0) => {
    const windowStart = (Math.floor(clock.now().getTime() / WINDOW_MS) - windowsAgo) * WINDOW_MS;
    return first.database.db
      .collection<{ bucket: string; count: number; pending?: number }>('login_failures')
      .find({ bucket: { $regex: `^${kind}:.*:${windowStart}$` } })
      .toArray();
  };

  it('tries at most 3 passwords of 20 parallel wrong logins on one account across both instances; the rest get 429', async () => {
    const { tried, refused } = await burst(() => BOOTSTRAP_ADMIN.email);
    expect(tried).toBeGreaterThanOrEqual(1);
    expect(tried).toBeLessThanOrEqual(3);
    expect(refused).toBe(20 - tried);
    // Refused attempts are not counted as failures; every tried one is.
    const [account] = await storedCounters('account');
    expect(account).toMatchObject({ count: tried });
    expect(account.pending ?? 0).toBe(0);
  });

  it('tries at most 5 passwords of 20 parallel logins on different accounts from one IP; the rest get 429', async () => {
    const { tried } = await burst((index) => `parallel-${index}@siteline.test`);
    expect(tried).toBeGreaterThanOrEqual(1);
    expect(tried).toBeLessThanOrEqual(5);
    const [ip] = await storedCounters('ip');
    expect(ip).toMatchObject({ count: tried });
    expect(ip.pending ?? 0).toBe(0);
  });

  it('counts a failure whose window ended during the password check in the new window, as before reservations', async () => {
    const throttle = first.app.get(LoginThrottleService);
    const failing = await throttle.reserve('10.9.9.9', 'window-edge@siteline.test');
    const succeeding = await throttle.reserve('10.9.9.9', 'window-edge@siteline.test');
    clock.advance(WINDOW_MS);
    await throttle.recordFailure(failing);
    expect(await storedCounters('account')).toEqual([expect.objectContaining({ count: 1, pending: 0 })]);
    await throttle.recordSuccess(succeeding);
    expect(await storedCounters('account')).toEqual([expect.objectContaining({ count: 0, pending: 0 })]);
    // Both reservations in the window they were made in are dropped.
    expect(await storedCounters('account', 1)).toEqual([expect.objectContaining({ count: 0, pending: 0 })]);
  });

  it('stores the counters under keyed hashes, never the IP or the email', async () => {
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password').expect(401);
    const stored = JSON.stringify(await first.database.db.collection('login_failures').find().toArray());
    expect(stored).toContain('account:');
    expect(stored).not.toContain('127.0.0.1');
    expect(stored).not.toContain(BOOTSTRAP_ADMIN.email);
  });
});
