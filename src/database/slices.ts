import { bulkWriteErrors } from './bulk-write-errors.js';
import { DUPLICATE_KEY_CODE } from './database-errors.js';

/**
 * Background jobs (the sessionizer, the rollup job) run on the thread that answers HTTP. A
 * batch of 20,000 hits handled in one synchronous pass — its deltas computed, 50,000 updates
 * serialized into one bulk write — held the event loop for up to 5.6 s on a loaded machine at
 * 10^6 hits, long enough for ingest requests to wait and for an idle keep-alive socket's timer to
 * close a connection a client had already sent its next request on. Work over a batch goes in
 * slices of about this many items, with a turn of the event loop between them.
 */
export const SLICE = 1_000;

/**
 * `batchSize` of a query whose whole answer its caller needs before going on (a sessionizer
 * batch's hits and visits): the answer in the first reply, up to the store's 16 MB per reply,
 * instead of the driver's default first batch of 101 documents and a `getMore` — one more
 * sequential store round trip — for the rest, which the `getMore` returns in one reply anyway.
 */
export const WHOLE_ANSWER = 1_000_000;

/** Lets pending I/O (requests, replies) run before the caller goes on. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The items in slices of `size`, with a turn of the event loop before each slice but the first. */
export async function* slicesOf<T>(items: readonly T[], size: number = SLICE): AsyncGenerator<readonly T[]> {
  for (let start = 0; start < items.length; start += size) {
    if (start > 0) await nextTurn();
    yield items.slice(start, start + size);
  }
}

/**
 * An unordered bulk write sent in slices (each serialized and answered on its own). With
 * `duplicatesApplied`, a duplicate-key error is taken as "already applied": an upsert filtered on
 * a batch stamp that meets the row it would create (the row already holds the batch, see
 * RollupRepository.applyRowDeltas), or a `$setOnInsert` upsert another writer won; any
 * other error, or any error without it, is thrown, and the slices after it are not sent — every
 * caller's writes are safe to repeat, so the next run sends them again.
 */
export async function bulkWriteInSlices<Operation>(
  // Structural: mongoose bundles its own copy of the driver, whose collection types differ from ours.
  collection: { bulkWrite(operations: Operation[], options: { ordered: false }): Promise<unknown> },
  operations: readonly Operation[],
  options: { duplicatesApplied?: boolean } = {},
): Promise<void> {
  for await (const slice of slicesOf(operations)) {
    try {
      await collection.bulkWrite([...slice], { ordered: false });
    } catch (error) {
      const writeErrors = options.duplicatesApplied ? bulkWriteErrors(error) : undefined;
      if (!writeErrors || writeErrors.some((entry) => entry.code !== DUPLICATE_KEY_CODE)) throw error;
    }
  }
}
