/**
 * A sorted multiset kept as a list of bounded chunks (the "sorted containers" layout): a
 * binary search picks the chunk, another the position in it. Inserts and deletes move at most
 * one chunk's worth of elements, so a million-entry index stays cheap to maintain and search.
 */
const MAX_CHUNK = 512;

export class SortedList<T> {
  private chunks: T[][] = [];
  private count = 0;
  /**
   * Elements before each chunk, for `rank`: rebuilt by the first count after a change, so a
   * write stays one chunk's work while a planner counting 10,000 `$in` values sums the chunk
   * lengths once instead of once per value.
   */
  private chunkStarts: number[] | undefined;

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.count;
  }

  insert(item: T): void {
    this.count++;
    this.chunkStarts = undefined;
    if (this.chunks.length === 0) {
      this.chunks.push([item]);
      return;
    }
    // Keys that only grow (ObjectId `_id`s, receipt times, timestamps) land after the last
    // element, where the searches below would place them too: one comparison instead of ~20.
    let chunkIndex = this.chunks.length - 1;
    let chunk = this.chunks[chunkIndex];
    if (this.compare(item, chunk[chunk.length - 1]) >= 0) chunk.push(item);
    else {
      chunkIndex = this.chunkFor(item, false);
      chunk = this.chunks[chunkIndex];
      chunk.splice(this.positionIn(chunk, item, false), 0, item);
    }
    if (chunk.length > MAX_CHUNK * 2) {
      this.chunks.splice(chunkIndex + 1, 0, chunk.splice(MAX_CHUNK));
    }
  }

  /** Removes one element equal to `item` for which `same` holds; returns whether it was found. */
  remove(item: T, same: (candidate: T) => boolean): boolean {
    let chunkIndex = this.chunkFor(item, true);
    let position = this.positionIn(this.chunks[chunkIndex] ?? [], item, true);
    while (chunkIndex < this.chunks.length) {
      const chunk = this.chunks[chunkIndex];
      for (; position < chunk.length; position++) {
        if (this.compare(chunk[position], item) !== 0) return false;
        if (same(chunk[position])) {
          chunk.splice(position, 1);
          this.count--;
          this.chunkStarts = undefined;
          if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
          return true;
        }
      }
      chunkIndex++;
      position = 0;
    }
    return false;
  }

  /**
   * Calls `visit` for elements from the first one where `atOrAfterStart(e)` holds, in order,
   * while `beforeEnd(e)` holds. `atOrAfterStart` must be monotonic (false…false, true…true).
   * A callback rather than a generator: this runs on every unique-index check.
   */
  forEachInRange(
    atOrAfterStart: (item: T) => boolean,
    beforeEnd: (item: T) => boolean,
    visit: (item: T) => void,
  ): void {
    const [first, firstIndex] = this.firstAtOrAfter(atOrAfterStart);
    for (let c = first; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      for (let i = c === first ? firstIndex : 0; i < chunk.length; i++) {
        if (!beforeEnd(chunk[i])) return;
        visit(chunk[i]);
      }
    }
  }

  /** Chunk and position of the first element where `atOrAfterStart` holds (monotonic). */
  private firstAtOrAfter(atOrAfterStart: (item: T) => boolean): [chunk: number, index: number] {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid];
      if (atOrAfterStart(chunk[chunk.length - 1])) hi = mid;
      else lo = mid + 1;
    }
    if (lo === this.chunks.length) return [lo, 0];
    return [lo, firstInChunk(this.chunks[lo], atOrAfterStart, 0)];
  }

  /**
   * The elements `forEachInRange` visits, one at a time, so that a consumer may stop early.
   * The list must not change while the generator is in use.
   */
  *range(atOrAfterStart: (item: T) => boolean, beforeEnd: (item: T) => boolean): Generator<T> {
    // Both ends by binary search, then no comparison per element: a stats read takes thousands
    // of entries from one range, and comparing each with the end bound cost more than the rest.
    const [first, firstIndex] = this.firstAtOrAfter(atOrAfterStart);
    const [last, lastIndex] = this.firstAtOrAfter((item) => !beforeEnd(item));
    for (let c = first; c <= last && c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      const end = c === last ? lastIndex : chunk.length;
      for (let i = c === first ? firstIndex : 0; i < end; i++) yield chunk[i];
    }
  }

  /**
   * How many elements lie in a range: from the first where `atOrAfterStart` holds to the last
   * where `beforeEnd` holds, both monotonic over the whole list. Two binary searches, no visiting.
   */
  countInRange(atOrAfterStart: (item: T) => boolean, beforeEnd: (item: T) => boolean): number {
    const [first, firstIndex] = this.firstAtOrAfter(atOrAfterStart);
    if (first === this.chunks.length) return 0;
    // Most ranges the planner counts hold a few entries (one visitor's hits, for each of the
    // sessionizer's 200 `$in` values): when the range ends in the chunk where it starts, one
    // search in that chunk finds the end, instead of a second search over the whole list and
    // the chunk offsets that every write invalidates.
    const chunk = this.chunks[first];
    if (!beforeEnd(chunk[chunk.length - 1]))
      return firstInChunk(chunk, (item) => !beforeEnd(item), firstIndex) - firstIndex;
    return Math.max(0, this.rank((item) => !beforeEnd(item)) - (this.startsOfChunks()[first] + firstIndex));
  }

  /** Position of the first element for which the monotonic `from` holds (size when none does). */
  private rank(from: (item: T) => boolean): number {
    const [chunk, index] = this.firstAtOrAfter(from);
    return chunk === this.chunks.length ? this.count : this.startsOfChunks()[chunk] + index;
  }

  private startsOfChunks(): number[] {
    if (!this.chunkStarts) {
      let before = 0;
      this.chunkStarts = this.chunks.map((chunk) => {
        const start = before;
        before += chunk.length;
        return start;
      });
    }
    return this.chunkStarts;
  }

  /** Visits every element in order (or reverse order) until `visit` returns false. */
  walk(reverse: boolean, visit: (item: T) => boolean): void {
    if (reverse) {
      for (let c = this.chunks.length - 1; c >= 0; c--) {
        const chunk = this.chunks[c];
        for (let i = chunk.length - 1; i >= 0; i--) if (!visit(chunk[i])) return;
      }
      return;
    }
    for (const chunk of this.chunks) {
      for (const item of chunk) if (!visit(item)) return;
    }
  }

  /** Index of the chunk holding the first element ≥ item (`lower`) or the last chunk whose head ≤ item. */
  private chunkFor(item: T, lower: boolean): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid];
      const c = this.compare(chunk[chunk.length - 1], item);
      if (lower ? c >= 0 : c > 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private positionIn(chunk: T[], item: T, lower: boolean): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compare(chunk[mid], item);
      if (lower ? c >= 0 : c > 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Position of the first element of `chunk`, from `from` on, where the monotonic `holds` does (its length when none does). */
function firstInChunk<T>(chunk: readonly T[], holds: (item: T) => boolean, from: number): number {
  let lo = from;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holds(chunk[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
