import { describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { flatPropsProblem } from './dto/flat-props.validator.js';
import { HitDto } from './dto/hit.dto.js';
import { validateItem } from './hit-validation.js';
import { TokenBucketLimiter } from './rate-limiter.js';
import { TRACKER_SCRIPT } from './tracker-script.js';

describe('validateItem(HitDto)', () => {
  it('accepts a valid hit and names the field of each problem', () => {
    expect(validateItem(HitDto, { url: '/', props: { plan: 'pro', n: 3, ok: true } })).toBeInstanceOf(HitDto);
    expect(validateItem(HitDto, { url: 'x'.repeat(2049) })).toMatch(/^url/);
    expect(validateItem(HitDto, { url: '/', color: 'red' })).toMatch(/color/);
    expect(validateItem(HitDto, { url: 5 })).toMatch(/^url/);
    expect(validateItem(HitDto, { url: '/', ip: '999.1.1.1' })).toMatch(/^ip/);
    expect(validateItem(HitDto, { url: '/', timestamp: 'yesterday' })).toMatch(/^timestamp/);
    expect(validateItem(HitDto, { url: '/', props: { 'a.b': 1 } })).toMatch(/^props/);
    expect(validateItem(HitDto, 'nope')).toBe('hit must be a JSON object');
  });
});

describe('flatPropsProblem', () => {
  it('enforces at most 30 scalar keys with short values', () => {
    expect(flatPropsProblem({ a: 'x' })).toBeNull();
    expect(flatPropsProblem(Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, i])))).toMatch(/30/);
    expect(flatPropsProblem({ a: 'x'.repeat(257) })).toMatch(/256/);
    expect(flatPropsProblem({ a: { nested: 1 } })).toMatch(/string, number or boolean/);
    expect(flatPropsProblem({ $where: 1 })).toMatch(/\$/);
    expect(flatPropsProblem([1])).toMatch(/object/);
  });
});

describe('TokenBucketLimiter', () => {
  it('allows the burst, then asks the caller to wait, and refills with time', () => {
    const limiter = new TokenBucketLimiter(1, 2);
    expect(limiter.take('k', 0)).toBe(0);
    expect(limiter.take('k', 0)).toBe(0);
    expect(limiter.take('k', 0)).toBe(1);
    expect(limiter.take('other', 0)).toBe(0);
    expect(limiter.take('k', 1000)).toBe(0);
  });
});

describe('tracker script', () => {
  it('is valid JavaScript, under 2.5 kB gzipped, that posts to /api/v1/hits without cookies', () => {
    expect(() => new Function(TRACKER_SCRIPT)).not.toThrow();
    expect(gzipSync(TRACKER_SCRIPT, { level: 9 }).length).toBeLessThan(2500);
    expect(TRACKER_SCRIPT).toContain('/api/v1/hits');
    expect(TRACKER_SCRIPT).toContain('sendBeacon');
    expect(TRACKER_SCRIPT).not.toContain('cookie');
  });
});
