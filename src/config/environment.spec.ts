import { describe, expect, it } from '@jest/globals';
import { loadEnvironment } from './environment.js';
import { durationToSeconds } from './duration.js';

describe('loadEnvironment', () => {
  it('applies the documented defaults', () => {
    const env = loadEnvironment({});
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      DATA_DIR: './data',
      JWT_ACCESS_TTL: '15m',
      JWT_REFRESH_TTL: '30d',
      VISITOR_ID_MODE: 'ip',
      SESSION_IDLE_MINUTES: 30,
      MAX_BACKFILL_DAYS: 3650,
      RETENTION_DAYS: 0,
      REVERSE_DNS: 'on',
      LOG_LEVEL: 'info',
    });
    expect(env.MONGODB_URI).toBeUndefined();
  });

  it('converts numbers and treats empty strings as unset', () => {
    const env = loadEnvironment({ PORT: '8080', SESSION_IDLE_MINUTES: '15', MONGODB_URI: '' });
    expect(env.PORT).toBe(8080);
    expect(env.SESSION_IDLE_MINUTES).toBe(15);
    expect(env.MONGODB_URI).toBeUndefined();
  });

  it.each([
    [{ NODE_ENV: 'production' }, /JWT_SECRET must be .*required when NODE_ENV=production/],
    [{ NODE_ENV: 'production', JWT_SECRET: 'short' }, /JWT_SECRET must be at least 32 characters/],
    [{ PORT: 'eighty' }, /PORT/],
    [{ VISITOR_ID_MODE: 'cookie' }, /VISITOR_ID_MODE/],
    [{ MONGODB_URI: 'postgres://x' }, /MONGODB_URI/],
    [{ JWT_ACCESS_TTL: 'forever' }, /JWT_ACCESS_TTL/],
    [{ REVERSE_DNS: 'maybe' }, /REVERSE_DNS/],
    [{ ADMIN_EMAIL: 'admin@example.com' }, /ADMIN_PASSWORD/],
    [{ TRUST_PROXY: 'everyone' }, /TRUST_PROXY/],
  ])('rejects %j naming the variable', (source, message) => {
    expect(() => loadEnvironment(source)).toThrow(message);
  });

  it('accepts a production configuration with strong secrets', () => {
    const secret = 'x'.repeat(32);
    expect(loadEnvironment({ NODE_ENV: 'production', JWT_SECRET: secret, VISITOR_SECRET: secret }).NODE_ENV).toBe(
      'production',
    );
  });
});

describe('durationToSeconds', () => {
  it.each([
    ['15m', 900],
    ['30d', 2_592_000],
    ['90s', 90],
    ['2h', 7200],
  ])('%s is %d seconds', (text, seconds) => {
    expect(durationToSeconds(text)).toBe(seconds);
  });
});
