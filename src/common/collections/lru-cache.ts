/**
 * A bounded least-recently-used map with an optional time-to-live. `Map` keeps insertion order,
 * so re-inserting on read moves an entry to the young end and the oldest key is evicted first.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K, now = 0): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /**
   * The value cached for `key`, else `compute(key)`, cached and returned: what a cache in front of
   * a costly pure function (user-agent parsing, bot classification) does on every call. A value
   * of `undefined` is not told apart from a miss, so it is computed again each time.
   */
  getOrCompute(key: K, compute: (key: K) => V, now = 0): V {
    const cached = this.get(key, now);
    if (cached !== undefined) return cached;
    const value = compute(key);
    this.set(key, value, now);
    return value;
  }

  has(key: K, now = 0): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.expiresAt > now;
  }

  set(key: K, value: V, now = 0): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}
