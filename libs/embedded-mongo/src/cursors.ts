import { calculateObjectSize, Long, type Document } from 'bson';
import { CommandError } from './errors.js';

/** Reply batches stay under MongoDB's 16 MiB document limit with room for the envelope. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024;
const DEFAULT_FIRST_BATCH = 101;
const IDLE_TIMEOUT_MS = 10 * 60_000;

interface OpenCursor {
  ns: string;
  docs: Document[];
  position: number;
  lastUsed: number;
}

export interface Batch {
  docs: Document[];
  /** 0 when the cursor is exhausted; always a BSON Long, which the driver requires. */
  id: Long;
}

/** Holds materialised results between find/aggregate and their getMore calls. */
export class CursorManager {
  private readonly cursors = new Map<bigint, OpenCursor>();
  private nextId = BigInt(Date.now()) * 1000n;

  /** Returns the first batch and registers the rest, if any, under a new cursor id. */
  open(ns: string, docs: Document[], batchSize: number | undefined, singleBatch = false): Batch {
    const cursor: OpenCursor = { ns, docs, position: 0, lastUsed: Date.now() };
    const first = this.take(cursor, batchSize ?? DEFAULT_FIRST_BATCH);
    if (singleBatch || cursor.position >= docs.length) return { docs: first, id: Long.ZERO };
    this.sweep();
    const id = ++this.nextId;
    this.cursors.set(id, cursor);
    return { docs: first, id: Long.fromBigInt(id) };
  }

  getMore(id: bigint, ns: string, batchSize: number | undefined): Batch {
    const cursor = this.cursors.get(id);
    if (!cursor || cursor.ns !== ns) throw new CommandError('CursorNotFound', `cursor id ${id} not found`);
    cursor.lastUsed = Date.now();
    const docs = this.take(cursor, batchSize && batchSize > 0 ? batchSize : Number.MAX_SAFE_INTEGER);
    if (cursor.position >= cursor.docs.length) {
      this.cursors.delete(id);
      return { docs, id: Long.ZERO };
    }
    return { docs, id: Long.fromBigInt(id) };
  }

  kill(ids: bigint[]): { killed: bigint[]; notFound: bigint[] } {
    const killed: bigint[] = [];
    const notFound: bigint[] = [];
    for (const id of ids) (this.cursors.delete(id) ? killed : notFound).push(id);
    return { killed, notFound };
  }

  get openCount(): number {
    return this.cursors.size;
  }

  private take(cursor: OpenCursor, count: number): Document[] {
    const batch: Document[] = [];
    let bytes = 0;
    while (batch.length < count && cursor.position < cursor.docs.length) {
      const doc = cursor.docs[cursor.position];
      // In the reply's array each document also costs its type byte and its index as a
      // NUL-terminated key: ~8 bytes, which for small documents adds megabytes to a 16 MiB batch.
      bytes += calculateObjectSize(doc) + String(batch.length).length + 2;
      if (bytes > MAX_BATCH_BYTES && batch.length > 0) break;
      batch.push(doc);
      cursor.position++;
    }
    return batch;
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_TIMEOUT_MS;
    for (const [id, cursor] of this.cursors) if (cursor.lastUsed < cutoff) this.cursors.delete(id);
  }
}
