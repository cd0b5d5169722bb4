import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { TestingModuleBuilder } from '@nestjs/testing';
import request from 'supertest';
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

  it('stores the counters under keyed hashes, never the IP or the email', async () => {
    await attempt(first, BOOTSTRAP_ADMIN.email, 'wrong-password').expect(401);
    const stored = JSON.stringify(await first.database.db.collection('login_failures').find().toArray());
    expect(stored).toContain('account:');
    expect(stored).not.toContain('127.0.0.1');
    expect(stored).not.toContain(BOOTSTRAP_ADMIN.email);
  });
});
