import { describe, expect, it } from '@jest/globals';
import { isOriginAllowed, isValidTimezone, normalizeDomain, normalizeOrigin } from './site-rules.js';
import type { SiteView } from './site-view.js';

const site: SiteView = {
  id: '65f000000000000000000001',
  domain: 'example.com',
  name: 'Example',
  timezone: 'UTC',
  allowedOrigins: ['https://app.partner.io', 'http://localhost:5173'],
  respectDoNotTrack: false,
};

describe('isOriginAllowed', () => {
  it('accepts the site domain and its www. form', () => {
    expect(isOriginAllowed(site, 'https://example.com')).toBe(true);
    expect(isOriginAllowed(site, 'https://www.example.com')).toBe(true);
    expect(isOriginAllowed(site, 'http://EXAMPLE.com:8080')).toBe(true);
  });

  it('accepts listed origins exactly', () => {
    expect(isOriginAllowed(site, 'https://app.partner.io')).toBe(true);
    expect(isOriginAllowed(site, 'http://localhost:5173')).toBe(true);
    expect(isOriginAllowed(site, 'http://localhost:3000')).toBe(false);
    expect(isOriginAllowed(site, 'http://app.partner.io')).toBe(false);
  });

  it('rejects look-alikes, subdomains and garbage', () => {
    expect(isOriginAllowed(site, 'https://example.com.evil.io')).toBe(false);
    expect(isOriginAllowed(site, 'https://evilexample.com')).toBe(false);
    expect(isOriginAllowed(site, 'https://blog.example.com')).toBe(false);
    expect(isOriginAllowed(site, 'null')).toBe(false);
    expect(isOriginAllowed(site, '')).toBe(false);
  });

  it('treats a www. site domain like the bare one', () => {
    expect(isOriginAllowed({ ...site, domain: 'www.example.com' }, 'https://example.com')).toBe(true);
  });
});

describe('site field rules', () => {
  it('normalizes domains to bare lower-case hosts', () => {
    expect(normalizeDomain(' https://Example.COM/ ')).toBe('example.com');
    expect(normalizeDomain('shop.example.co.uk')).toBe('shop.example.co.uk');
    expect(normalizeDomain('localhost')).toBe('localhost');
    expect(normalizeDomain('example.com/path')).toBeUndefined();
    expect(normalizeDomain('exa mple.com')).toBeUndefined();
    expect(normalizeDomain('')).toBeUndefined();
  });

  it('normalizes origins and rejects paths', () => {
    expect(normalizeOrigin('https://App.Example.com/')).toBe('https://app.example.com');
    expect(normalizeOrigin('https://example.com/path')).toBeUndefined();
    expect(normalizeOrigin('ftp://example.com')).toBeUndefined();
    expect(normalizeOrigin('example.com')).toBeUndefined();
  });

  it('knows IANA zones and UTC', () => {
    expect(isValidTimezone('Europe/Berlin')).toBe(true);
    expect(isValidTimezone('UTC')).toBe(true);
    expect(isValidTimezone('Mars/Olympus')).toBe(false);
    expect(isValidTimezone('europe/berlin')).toBe(false);
    // ICU lists Asia/Calcutta; the current IANA name must be accepted too.
    expect(isValidTimezone('Asia/Kolkata')).toBe(true);
    expect(isValidTimezone('America/Argentina/Buenos_Aires')).toBe(true);
  });
});
