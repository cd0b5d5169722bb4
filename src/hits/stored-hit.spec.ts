import { describe, expect, it } from '@jest/globals';
import { storedHit } from './stored-hit.js';

describe('storedHit', () => {
  it('leaves out every null field but visitId, and keeps falsy values that are values', () => {
    const hit = {
      name: 'pageview',
      visitId: null,
      referrer: null,
      utmSource: null,
      source: '',
      revenueAmount: 0,
      props: { plan: null },
      rollupPending: true,
    };
    const stored = storedHit(hit);
    expect(stored).toEqual({
      name: 'pageview',
      visitId: null,
      source: '',
      revenueAmount: 0,
      props: { plan: null },
      rollupPending: true,
    });
    expect(Object.keys(stored)).not.toContain('referrer');
    expect(Object.keys(stored)).not.toContain('utmSource');
    expect(hit.referrer).toBeNull();
  });
});
