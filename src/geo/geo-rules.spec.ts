import { describe, expect, it } from '@jest/globals';
import { countryName } from './country-name.js';
import { LruCache } from './lru-cache.js';
import { registrableDomain } from './registrable-domain.js';

describe('registrableDomain', () => {
  it.each([
    ['crawl-66-249-66-1.googlebot.com', 'googlebot.com'],
    ['crawl-66-249-66-1.googlebot.com.', 'googlebot.com'],
    ['host81-2-69-142.range81-2.btcentralplus.com', 'btcentralplus.com'],
    ['cpc1-stal1-2-0-cust1.bt.co.uk', 'bt.co.uk'],
    ['ppp-1.dyn.telstra.com.au', 'telstra.com.au'],
    ['co.uk', null],
    ['localhost', null],
    ['8.8.8.8', null],
  ])('%s → %s', (name, expected) => {
    expect(registrableDomain(name)).toBe(expected);
  });
});

describe('countryName', () => {
  it('names codes in English and says Unknown for none', () => {
    expect(countryName('DE')).toBe('Germany');
    expect(countryName('us')).toBe('United States');
    expect(countryName(null)).toBe('Unknown');
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry and expires by ttl', () => {
    const cache = new LruCache<string, number>(2, 100);
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    expect(cache.get('a', 10)).toBe(1);
    cache.set('c', 3, 10);
    expect(cache.get('b', 10)).toBeUndefined();
    expect(cache.get('a', 50)).toBe(1);
    expect(cache.get('c', 200)).toBeUndefined();
  });
});
