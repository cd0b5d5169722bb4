/** A span of time, in epoch milliseconds, both ends included. */
export interface Span {
  from: number;
  to: number;
}

/** What was read of one visitor for a span: its hit times in order, and its stored visits overlapping the span. */
export interface VisitorReadings {
  read: Span;
  hitTimes: number[];
  visits: Array<{ start: number; end: number }>;
}

export type Widening = { settled: true; window: Span } | { settled: false; window: Span };

/**
 * Widens a visitor's changed span until it is bounded by gaps longer than `idleMs` on both sides,
 * absorbing every stored visit it comes within `idleMs` of: everything inside is then one or
 * more whole visits, and everything outside is unaffected by the change.
 *
 * Works on what was read for `readings.read` only. When the widening needs to look outside it,
 * the result is `settled: false` with the window reached so far: read again around that window
 * (`from - idleMs` to `to + idleMs`) and call again. Each call only ever grows the window.
 */
export function widenToWholeVisits(start: Span, readings: VisitorReadings, idleMs: number): Widening {
  const { read, hitTimes, visits } = readings;
  let { from: lo, to: hi } = start;
  for (;;) {
    if (lo - idleMs < read.from || hi + idleMs > read.to) return { settled: false, window: { from: lo, to: hi } };
    let nextLo = lo;
    let nextHi = hi;
    for (const visit of visits) {
      if (visit.start <= hi + idleMs && visit.end >= lo - idleMs) {
        nextLo = Math.min(nextLo, visit.start);
        nextHi = Math.max(nextHi, visit.end);
      }
    }
    if (nextLo - idleMs < read.from || nextHi + idleMs > read.to) {
      return { settled: false, window: { from: nextLo, to: nextHi } };
    }
    const before = earliestIn(hitTimes, nextLo - idleMs, nextLo);
    if (before !== undefined) nextLo = before;
    const after = latestIn(hitTimes, nextHi, nextHi + idleMs);
    if (after !== undefined) nextHi = after;
    if (nextLo === lo && nextHi === hi) return { settled: true, window: { from: lo, to: hi } };
    lo = nextLo;
    hi = nextHi;
  }
}

/** The earliest time t with `from ≤ t < before` in the sorted list. */
function earliestIn(sortedTimes: number[], from: number, before: number): number | undefined {
  const index = lowerBound(sortedTimes, from);
  return index < sortedTimes.length && sortedTimes[index] < before ? sortedTimes[index] : undefined;
}

/** The latest time t with `after < t ≤ to` in the sorted list. */
function latestIn(sortedTimes: number[], after: number, to: number): number | undefined {
  const index = lowerBound(sortedTimes, to + 1) - 1;
  return index >= 0 && sortedTimes[index] > after ? sortedTimes[index] : undefined;
}

/** First index whose value is ≥ `value`. */
function lowerBound(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
