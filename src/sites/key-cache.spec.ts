import { describe, expect, it } from '@jest/globals';
import { ExpiringLru } from './key-cache.js';

describe('ExpiringLru', () => {
  it('forgets entries after the TTL', () => {
    let now = 0;
    const cache = new ExpiringLru<string>(10, 1000, () => now);
    cache.set('a', 'site-1');
    now = 999;
    expect(cache.get('a')).toBe('site-1');
    now = 1000;
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts the least recently used entry beyond capacity', () => {
    const cache = new ExpiringLru<number>(2, 1000, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  it('drops entries on demand', () => {
    const cache = new ExpiringLru<{ siteId: string }>(10, 1000, () => 0);
    cache.set('a', { siteId: 's1' });
    cache.set('b', { siteId: 's2' });
    cache.deleteWhere((value) => value.siteId === 's1');
    cache.delete('b');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
  });
});
