import { describe, expect, it } from '@jest/globals';
import { countryName } from './country-name.js';
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
