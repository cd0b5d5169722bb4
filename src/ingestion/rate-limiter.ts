/**
 * Token buckets per caller (a site key, or a browser's IP), in this instance's memory: with N
 * instances behind a balancer a caller gets up to N× the rate. Good enough to stop a runaway
 * sender without a shared store; put a limit at the edge for hard guarantees. The map is
 * bounded: when full, idle buckets (already refilled) are dropped first, then the oldest.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxBuckets = 50_000,
  ) {}

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** Takes one token; returns 0 when allowed, else the seconds to wait before retrying. */
  take(caller: string, nowMs: number): number {
    if (!this.enabled) return 0;
    let bucket = this.buckets.get(caller);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.evict(nowMs);
      bucket = { tokens: this.burst, updatedAt: nowMs };
      this.buckets.set(caller, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.updatedAt) / 1000) * this.ratePerSecond);
      bucket.updatedAt = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }

  private evict(nowMs: number): void {
    const fullAfterMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [caller, bucket] of this.buckets) {
      if (nowMs - bucket.updatedAt >= fullAfterMs) this.buckets.delete(caller);
    }
    if (this.buckets.size >= this.maxBuckets) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
  }
}
