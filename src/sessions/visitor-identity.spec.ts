import { describe, expect, it } from '@jest/globals';
import { VisitorIdentity } from './visitor-identity.js';

const base = { siteId: 'site-a', ip: '198.51.100.7', userAgent: 'UA 1', ts: new Date('2024-03-01T23:59:00Z') };

describe('VisitorIdentity', () => {
  it('ip mode: one key per site and IP, whatever the user agent; never the raw IP', () => {
    const identity = new VisitorIdentity('s'.repeat(32), 'ip');
    const key = identity.visitorKey(base);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(identity.visitorKey({ ...base, userAgent: 'UA 2' })).toBe(key);
    expect(identity.visitorKey({ ...base, siteId: 'site-b' })).not.toBe(key);
    expect(new VisitorIdentity('t'.repeat(32), 'ip').visitorKey(base)).not.toBe(key);
  });

  it('ip_ua mode separates user agents; a userId overrides the mode', () => {
    const identity = new VisitorIdentity('s'.repeat(32), 'ip_ua');
    expect(identity.visitorKey({ ...base, userAgent: 'UA 2' })).not.toBe(identity.visitorKey(base));
    expect(identity.visitorKey({ ...base, userId: 'u1' })).toBe(
      identity.visitorKey({ ...base, ip: '203.0.113.1', userId: 'u1' }),
    );
  });

  it('daily mode rotates with the UTC date of the hit', () => {
    const identity = new VisitorIdentity('s'.repeat(32), 'daily');
    const sameDay = identity.visitorKey({ ...base, ts: new Date('2024-03-01T00:01:00Z') });
    expect(identity.visitorKey(base)).toBe(sameDay);
    expect(identity.visitorKey({ ...base, ts: new Date('2024-03-02T00:00:00Z') })).not.toBe(sameDay);
  });
});
