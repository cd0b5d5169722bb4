import {
  HttpException,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import type { InsertOutcome } from '../database/bulk-write-errors.js';
import { isDatabaseUnreachable } from '../database/database-errors.js';
import { serviceUnavailable } from '../common/errors/service-unavailable.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { SessionsService, type DirtyMark } from '../sessions/sessions.service.js';
import { EngagementsRepository, type NewEngagement } from './engagements.repository.js';
import { HitsRepository, type NewHit } from '../hits/hits.repository.js';

export type WriteResult = 'stored' | 'duplicate' | 'failed';

interface PendingWrite {
  hits: NewHit[];
  engagements: NewEngagement[];
  resolve: (results: WriteResult[]) => void;
  reject: (error: unknown) => void;
}

/** Group commit: at most this many documents (hits and engagements) per write … */
const MAX_BATCH_HITS = 1000;
/** … and a request waits at most this long for others to share its write. */
const MAX_DELAY_MS = 5;
const MAX_CONCURRENT_WRITES = 4;
/** Beyond this many queued hits new requests get 503 instead of growing memory. */
export const MAX_QUEUED_HITS = 20_000;
/**
 * A write not acknowledged by then is answered 503, before the client's 30 s socket timeout: the
 * driver can leave an operation on a connection the database closed pending forever (the defect
 * described in `src/database/heartbeat-watchdog.ts`), which would hold its requests and a write
 * slot for good. Such a write may still land later; a 503 only promises no acknowledgement.
 */
export const WRITE_DEADLINE_MS = 20_000;

class WriteDeadlineExceeded extends Error {
  override readonly name = 'WriteDeadlineExceeded';
}

function databaseUnreachable(): HttpException {
  return serviceUnavailable('Database unavailable, retry shortly');
}

function shuttingDown(): HttpException {
  return serviceUnavailable('Shutting down, retry shortly');
}

/**
 * Durable group commit for hits. Concurrent requests enqueue their enriched hits and await one
 * shared `insertMany({ ordered: false })`; each learns, hit by hit, whether it was stored or a
 * duplicate only after MongoDB acknowledged the write (so `202` means written). The visitors
 * touched are marked for the sessionizer in the same step. A failed write fails exactly the
 * requests in it with 503.
 *
 * On shutdown new hits are refused (503) from the first step on, so the drain has a fixed amount
 * of work instead of chasing a steady stream of requests; what is queued is written until the
 * drain phase's deadline, and whatever is still queued then is answered 503, never acknowledged.
 *
 * Engagement records (`engagements`, see Engagement) go through the same queue, in the same
 * commit as the hits of their request: one durability mechanism, one queue bound, one drain on
 * shutdown. They are inserted into their own collection and never mark a visitor for the
 * sessionizer (they change no visit). `MAX_QUEUED_HITS` counts both kinds.
 *
 * When a write fails because the database cannot be reached, every request still queued is
 * failed with it: each queued batch would otherwise wait out its own server selection in turn,
 * and the last ones in a full queue outlived the client's socket without any answer. Until a
 * write succeeds again, one write at a time goes through as a probe and the others are refused
 * at once, so clients are told to come back within milliseconds and the writer notices by
 * itself when the database is back (no restart, no background timer).
 */
@Injectable()
export class HitWriter implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(HitWriter.name);
  private readonly queue: PendingWrite[] = [];
  private queuedHits = 0;
  private activeWrites = 0;
  private timer: NodeJS.Timeout | undefined;
  private drainWaiters: Array<() => void> = [];
  /** Set when a write failed for want of a database; cleared by the next write that succeeds. */
  private databaseUnreachable = false;
  private closing = false;

  constructor(
    private readonly hits: HitsRepository,
    private readonly sessions: SessionsService,
    private readonly metrics: MetricsService,
    private readonly engagements: EngagementsRepository,
    private readonly shutdown: ShutdownDeadline,
  ) {}

  /**
   * Refuses a request (503) up front when its hits would not fit the queue, before any
   * validation or enrichment is spent on it: under a flood, refusals must stay cheap so the
   * instance keeps serving what it accepted. `write` still enforces the bound.
   */
  assertRoomFor(count: number): void {
    if (this.closing) throw shuttingDown();
    if (this.refusesWhileUnreachable()) throw databaseUnreachable();
    if (this.queuedHits + count > MAX_QUEUED_HITS) throw serviceUnavailable('Ingest queue is full, retry shortly');
  }

  /**
   * Resolves once written with one result per document: the hits' in order, then the
   * engagements'. Rejects with 503 when full or when the write failed.
   */
  write(hits: NewHit[], engagements: NewEngagement[] = []): Promise<WriteResult[]> {
    const count = hits.length + engagements.length;
    if (count === 0) return Promise.resolve([]);
    if (this.closing) return Promise.reject(shuttingDown());
    if (this.refusesWhileUnreachable()) return Promise.reject(databaseUnreachable());
    if (this.queuedHits + count > MAX_QUEUED_HITS) {
      return Promise.reject(serviceUnavailable('Ingest queue is full, retry shortly'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ hits, engagements, resolve, reject });
      this.queuedHits += count;
      this.metrics.queueDepth.set(this.queuedHits);
      if (this.queuedHits >= MAX_BATCH_HITS) this.startWrites();
      else this.timer ??= setTimeout(() => this.startWrites(), MAX_DELAY_MS);
    });
  }

  /** The first step of shutdown: no new hits from here on. */
  onModuleDestroy(): void {
    this.closing = true;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const unacknowledged = 'their requests are answered 503, nothing unwritten is acknowledged';
    if (await this.shutdown.settle('Queued hit writes', 'drain', this.drain(), unacknowledged)) return;
    const waiting = this.queue.splice(0);
    this.queuedHits = 0;
    this.metrics.queueDepth.set(0);
    for (const pending of waiting) pending.reject(shuttingDown());
  }

  /** Resolves when nothing is queued or being written. */
  drain(): Promise<void> {
    this.startWrites();
    if (this.queue.length === 0 && this.activeWrites === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** While the database is unreachable only the probe, a write made when nothing else is pending, goes through. */
  private refusesWhileUnreachable(): boolean {
    return this.databaseUnreachable && (this.queue.length > 0 || this.activeWrites > 0);
  }

  private startWrites(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.activeWrites < MAX_CONCURRENT_WRITES && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.activeWrites++;
      void this.writeBatch(batch).finally(() => {
        this.activeWrites--;
        if (this.queue.length > 0) this.startWrites();
        else if (this.activeWrites === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
      });
    }
  }

  /** Whole requests, oldest first, up to MAX_BATCH_HITS (a larger single request goes alone). */
  private takeBatch(): PendingWrite[] {
    const batch: PendingWrite[] = [];
    let size = 0;
    while (this.queue.length > 0 && (batch.length === 0 || size + documentCount(this.queue[0]) <= MAX_BATCH_HITS)) {
      const next = this.queue.shift()!;
      batch.push(next);
      size += documentCount(next);
    }
    this.queuedHits -= size;
    this.metrics.queueDepth.set(this.queuedHits);
    return batch;
  }

  private async writeBatch(batch: PendingWrite[]): Promise<void> {
    const documents = batch.flatMap((pending) => pending.hits);
    const engagements = batch.flatMap((pending) => pending.engagements);
    const stopTimer = this.metrics.writeLatency.startTimer();
    this.metrics.writeBatchSize.observe(documents.length + engagements.length);
    try {
      const [results, engagementResults] = await withDeadline(
        Promise.all([this.store(documents), this.storeEngagements(engagements)]),
        WRITE_DEADLINE_MS,
      );
      stopTimer();
      if (this.databaseUnreachable) this.logger.log('Hits are written again: the database is reachable');
      this.databaseUnreachable = false;
      let offset = 0;
      let engagementOffset = 0;
      for (const pending of batch) {
        pending.resolve([
          ...results.slice(offset, offset + pending.hits.length),
          ...engagementResults.slice(engagementOffset, engagementOffset + pending.engagements.length),
        ]);
        offset += pending.hits.length;
        engagementOffset += pending.engagements.length;
      }
      this.sessions.sessionizeInBackground();
    } catch (error) {
      stopTimer();
      this.logger.error(
        `Writing ${documents.length} hits and ${engagements.length} engagements failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
      const unavailable = serviceUnavailable('Hits could not be stored, retry shortly');
      for (const pending of batch) pending.reject(unavailable);
      if (isDatabaseUnreachable(error) || error instanceof WriteDeadlineExceeded) this.failQueueAsUnreachable();
    }
  }

  private async store(documents: NewHit[]): Promise<WriteResult[]> {
    if (documents.length === 0) return [];
    const results = writeResults(documents.length, await this.hits.insertMany(documents));
    // Duplicates are marked too: a retry is refused as a duplicate when an earlier attempt stored
    // the hit but failed (or timed out) before its mark, and that hit still needs its visit.
    await this.sessions.markDirty(visitorMarks(documents.filter((_, index) => results[index] !== 'failed')));
    return results;
  }

  private async storeEngagements(engagements: NewEngagement[]): Promise<WriteResult[]> {
    if (engagements.length === 0) return [];
    return writeResults(engagements.length, await this.engagements.insertMany(engagements));
  }

  /** Nothing queued can be written while the database is unreachable: answer all of it now. */
  private failQueueAsUnreachable(): void {
    if (!this.databaseUnreachable) this.logger.warn('Database unreachable: refusing hits until a write succeeds');
    this.databaseUnreachable = true;
    const waiting = this.queue.splice(0);
    this.queuedHits = 0;
    this.metrics.queueDepth.set(0);
    const unavailable = databaseUnreachable();
    for (const pending of waiting) pending.reject(unavailable);
  }
}

function documentCount(pending: PendingWrite): number {
  return pending.hits.length + pending.engagements.length;
}

function writeResults(count: number, outcome: InsertOutcome): WriteResult[] {
  const results: WriteResult[] = Array.from({ length: count }, () => 'stored');
  for (const index of outcome.duplicateIndexes) results[index] = 'duplicate';
  for (const index of outcome.failedIndexes) results[index] = 'failed';
  return results;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WriteDeadlineExceeded(`No acknowledgement within ${ms} ms`)), ms).unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** One mark per visitor covering all these hits' timestamps. */
function visitorMarks(written: NewHit[]): DirtyMark[] {
  const marks = new Map<string, DirtyMark>();
  for (const hit of written) {
    const key = `${hit.siteId.toHexString()}:${hit.visitorKey}`;
    const mark = marks.get(key);
    if (!mark) marks.set(key, { siteId: hit.siteId, visitorKey: hit.visitorKey, from: hit.ts, to: hit.ts });
    else {
      if (hit.ts < mark.from) mark.from = hit.ts;
      if (hit.ts > mark.to) mark.to = hit.ts;
    }
  }
  return [...marks.values()];
}
