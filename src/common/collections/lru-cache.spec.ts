import { describe, expect, it } from '@jest/globals';
import { LruCache } from './lru-cache.js';

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

  it('computes a value once per key while it stays cached, again once evicted or expired', () => {
    const cache = new LruCache<string, string>(2, 100);
    const computed: string[] = [];
    const compute = (key: string) => {
      computed.push(key);
      return key.toUpperCase();
    };
    expect(cache.getOrCompute('a', compute, 0)).toBe('A');
    expect(cache.getOrCompute('b', compute, 10)).toBe('B');
    expect(cache.getOrCompute('a', compute, 10)).toBe('A');
    // `b` is now the least recently used: `c` evicts it.
    expect(cache.getOrCompute('c', compute, 10)).toBe('C');
    expect(cache.getOrCompute('a', compute, 20)).toBe('A');
    expect(cache.getOrCompute('b', compute, 20)).toBe('B');
    // Cached at 20 with a time-to-live of 100.
    expect(cache.getOrCompute('b', compute, 119)).toBe('B');
    expect(cache.getOrCompute('b', compute, 120)).toBe('B');
    expect(computed).toEqual(['a', 'b', 'c', 'b', 'b']);
  });
});
