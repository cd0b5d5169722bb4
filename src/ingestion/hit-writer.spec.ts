import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import { MongoBulkWriteError, MongoNetworkError, type BulkWriteResult } from 'mongodb';
import { Types } from 'mongoose';
import type { HttpAdapterHost } from '@nestjs/core';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import type { AppConfig } from '../config/configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import { HitWriter, MAX_QUEUED_HITS, WRITE_DEADLINE_MS } from './hit-writer.js';
import type { EngagementsRepository, NewEngagement } from './engagements.repository.js';
import type { HitsRepository, NewHit } from '../hits/hits.repository.js';

/** A database that never answers: everything written stays queued. */
const stalledHits = { insertMany: () => new Promise(() => undefined) } as unknown as HitsRepository;
/** No engagement is written in these tests: each request carries hits only. */
const engagements = {
  insertMany: () => Promise.reject(new Error('no engagement expected')),
} as unknown as EngagementsRepository;
const sessions = {
  markDirty: () => Promise.resolve(),
  sessionizeInBackground: () => undefined,
} as unknown as SessionsService;

/** A shutdown clock without an HTTP server, on a budget of `totalMs`. */
function shutdownDeadline(totalMs = 8000): ShutdownDeadline {
  return new ShutdownDeadline({ shutdownTimeoutMs: totalMs } as AppConfig, {} as HttpAdapterHost);
}

function hits(count: number): NewHit[] {
  const siteId = new Types.ObjectId();
  return Array.from(
    { length: count },
    () => ({ _id: new Types.ObjectId(), siteId, visitorKey: 'visitor', ts: new Date(0) }) as NewHit,
  );
}

describe('HitWriter load shedding', () => {
  it('refuses up front with 503 and Retry-After exactly when write would refuse for a full queue', async () => {
    const writer = new HitWriter(stalledHits, sessions, new MetricsService(), engagements, shutdownDeadline());
    expect(() => writer.assertRoomFor(MAX_QUEUED_HITS)).not.toThrow();
    expect(() => writer.assertRoomFor(MAX_QUEUED_HITS + 1)).toThrow(HttpException);
    // Fill the queue with 100-hit requests until the writer itself refuses one.
    let refusedByWrite: unknown;
    for (let sent = 0; refusedByWrite === undefined && sent < 2 * MAX_QUEUED_HITS; sent += 100) {
      const pending = new Promise((resolve) => setImmediate(() => resolve(undefined)));
      refusedByWrite = await Promise.race([
        writer.write(hits(100)).then(
          () => undefined,
          (error: unknown) => error,
        ),
        pending,
      ]);
    }
    expect((refusedByWrite as HttpException).getStatus()).toBe(503);
    let refusal: unknown;
    try {
      writer.assertRoomFor(100);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(HttpException);
    expect((refusal as HttpException).getStatus()).toBe(503);
    expect((refusal as HttpException).getResponse()).toMatchObject({ headers: { 'Retry-After': '1' } });
    expect(() => writer.assertRoomFor(0)).not.toThrow();
  });
});

interface ControlledWrite {
  count: number;
  succeed: () => void;
  fail: (error: Error) => void;
}

/** A repository whose writes finish only when the test says so, in any order. */
function controlledHits(): { repository: HitsRepository; writes: ControlledWrite[] } {
  const writes: ControlledWrite[] = [];
  const repository = {
    insertMany: (documents: NewHit[]) =>
      new Promise((resolve, reject) =>
        writes.push({
          count: documents.length,
          succeed: () => resolve({ duplicateIndexes: [], failedIndexes: [] }),
          fail: reject,
        }),
      ),
  } as unknown as HitsRepository;
  return { repository, writes };
}

type Settled = { status: 'stored'; count: number } | { status: number; message: string } | 'pending';

/** Tracks a write's outcome without awaiting it. */
function track(promise: Promise<unknown[]>): () => Settled {
  let settled: Settled = 'pending';
  promise.then(
    (results) => (settled = { status: 'stored', count: results.length }),
    (error: HttpException) => (settled = { status: error.getStatus(), message: error.message }),
  );
  return () => settled;
}

/** What an unordered insertMany throws when its connection is cut: the network error, wrapped. */
function connectionLost(message: string): MongoBulkWriteError {
  return new MongoBulkWriteError(new MongoNetworkError(message), {} as BulkWriteResult);
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('HitWriter when the database is unreachable', () => {
  it('fails every queued request at once with 503 when a write cannot reach the database', async () => {
    const { repository, writes } = controlledHits();
    const writer = new HitWriter(repository, sessions, new MetricsService(), engagements, shutdownDeadline());
    // 4 writes of 1000 hits run at once; 3 more wait in the queue behind them.
    const outcomes = Array.from({ length: 7 }, () => track(writer.write(hits(1000))));
    await flush();
    expect(writes).toHaveLength(4);

    writes[0].fail(connectionLost('connection reset'));
    await flush();

    expect(outcomes.map((outcome) => outcome())).toEqual([
      { status: 503, message: 'Hits could not be stored, retry shortly' },
      'pending',
      'pending',
      'pending',
      { status: 503, message: 'Database unavailable, retry shortly' },
      { status: 503, message: 'Database unavailable, retry shortly' },
      { status: 503, message: 'Database unavailable, retry shortly' },
    ]);
    // Nothing queued was handed to the database after the failure.
    expect(writes).toHaveLength(4);
    writes.slice(1).forEach((write) => write.succeed());
    await flush();
    expect(outcomes.slice(1, 4).map((outcome) => outcome())).toEqual(Array(3).fill({ status: 'stored', count: 1000 }));
  });

  it('lets one probe write through, refuses the rest at once, and takes writes again once the probe succeeds', async () => {
    const { repository, writes } = controlledHits();
    const writer = new HitWriter(repository, sessions, new MetricsService(), engagements, shutdownDeadline());
    const first = track(writer.write(hits(10)));
    await flush();
    writes[0].fail(connectionLost('connection refused'));
    await flush();
    expect(first()).toMatchObject({ status: 503 });

    const probe = track(writer.write(hits(10)));
    expect(() => writer.assertRoomFor(10)).toThrow('Database unavailable, retry shortly');
    const refused = track(writer.write(hits(10)));
    await flush();
    expect(refused()).toEqual({ status: 503, message: 'Database unavailable, retry shortly' });
    expect(writes).toHaveLength(2);

    writes[1].fail(connectionLost('connection refused'));
    await flush();
    expect(probe()).toMatchObject({ status: 503 });

    const secondProbe = track(writer.write(hits(10)));
    await flush();
    writes[2].succeed();
    await flush();
    expect(secondProbe()).toEqual({ status: 'stored', count: 10 });

    // Back to normal: concurrent writes are queued and written, none refused.
    const after = Array.from({ length: 3 }, () => track(writer.write(hits(10))));
    expect(() => writer.assertRoomFor(10)).not.toThrow();
    await flush();
    writes.slice(3).forEach((write) => write.succeed());
    await flush();
    expect(after.map((outcome) => outcome())).toEqual(Array(3).fill({ status: 'stored', count: 10 }));
  });

  it('fails only its own requests when a write fails for another reason', async () => {
    const { repository, writes } = controlledHits();
    const writer = new HitWriter(repository, sessions, new MetricsService(), engagements, shutdownDeadline());
    const outcomes = Array.from({ length: 5 }, () => track(writer.write(hits(1000))));
    await flush();
    writes[0].fail(new Error('document failed validation'));
    await flush();
    expect(outcomes[0]()).toEqual({ status: 503, message: 'Hits could not be stored, retry shortly' });
    expect(outcomes[4]()).toBe('pending');
    // The queued request got its own write, and new requests are still queued, not refused.
    expect(writes).toHaveLength(5);
    expect(() => writer.assertRoomFor(10)).not.toThrow();
    writes.slice(1).forEach((write) => write.succeed());
    await flush();
    expect(outcomes.slice(1).map((outcome) => outcome())).toEqual(Array(4).fill({ status: 'stored', count: 1000 }));
  });
});

describe('HitWriter write deadline', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('answers 503 for a write never acknowledged, fails the queue behind it, and takes writes again after', async () => {
    jest.useFakeTimers();
    const { repository, writes } = controlledHits();
    const writer = new HitWriter(repository, sessions, new MetricsService(), engagements, shutdownDeadline());
    const outcomes = Array.from({ length: 5 }, () => track(writer.write(hits(1000))));
    await jest.advanceTimersByTimeAsync(10);
    expect(writes).toHaveLength(4);

    await jest.advanceTimersByTimeAsync(WRITE_DEADLINE_MS - 100);
    expect(outcomes.map((outcome) => outcome())).toEqual(Array(5).fill('pending'));
    await jest.advanceTimersByTimeAsync(200);
    expect(outcomes.slice(0, 4).map((outcome) => outcome())).toEqual(
      Array(4).fill({ status: 503, message: 'Hits could not be stored, retry shortly' }),
    );
    expect(outcomes[4]()).toEqual({ status: 503, message: 'Database unavailable, retry shortly' });

    // The stalled writes' slots are free again: a probe is written and ends the outage.
    const probe = track(writer.write(hits(10)));
    await jest.advanceTimersByTimeAsync(10);
    expect(writes).toHaveLength(5);
    writes[4].succeed();
    await jest.advanceTimersByTimeAsync(10);
    expect(probe()).toEqual({ status: 'stored', count: 10 });
  });
});

describe('HitWriter visitor marks', () => {
  it('marks the visitors of duplicates too, so a retry of a stored but unmarked hit still gets its visit', async () => {
    const marked: string[] = [];
    const recordingSessions = {
      markDirty: (marks: Array<{ visitorKey: string }>) => {
        marked.push(...marks.map((mark) => mark.visitorKey));
        return Promise.resolve();
      },
      sessionizeInBackground: () => undefined,
    } as unknown as SessionsService;
    const repository = {
      insertMany: () => Promise.resolve({ duplicateIndexes: [1], failedIndexes: [2] }),
    } as unknown as HitsRepository;
    const writer = new HitWriter(repository, recordingSessions, new MetricsService(), engagements, shutdownDeadline());
    const batch = hits(3).map((hit, index) => ({ ...hit, visitorKey: ['stored', 'duplicate', 'failed'][index] }));

    expect(await writer.write(batch)).toEqual(['stored', 'duplicate', 'failed']);
    expect(marked.sort()).toEqual(['duplicate', 'stored']);
  });

  it('writes engagements in the same commit, answers hits then engagements, and marks only the hits for sessions', async () => {
    const marked: string[] = [];
    const recordingSessions = {
      markDirty: (marks: Array<{ visitorKey: string }>) => {
        marked.push(...marks.map((mark) => mark.visitorKey));
        return Promise.resolve();
      },
      sessionizeInBackground: () => undefined,
    } as unknown as SessionsService;
    const written: string[] = [];
    const repository = {
      insertMany: (documents: NewHit[]) => {
        written.push(...documents.map((document) => `hit:${document.visitorKey}`));
        return Promise.resolve({ duplicateIndexes: [], failedIndexes: [] });
      },
    } as unknown as HitsRepository;
    const engagementRepository = {
      insertMany: (documents: NewEngagement[]) => {
        written.push(...documents.map((document) => `engagement:${document.visitorKey}`));
        return Promise.resolve({ duplicateIndexes: [0], failedIndexes: [] });
      },
    } as unknown as EngagementsRepository;
    const writer = new HitWriter(
      repository,
      recordingSessions,
      new MetricsService(),
      engagementRepository,
      shutdownDeadline(),
    );
    const engagement = { ...hits(1)[0], visitorKey: 'reader', engagementMs: 1000, scrollDepth: 50 } as NewEngagement;
    const first = writer.write([{ ...hits(1)[0], visitorKey: 'viewer' }], [engagement, { ...engagement }]);
    const second = writer.write([], [{ ...engagement, visitorKey: 'other-reader' }]);

    expect(await first).toEqual(['stored', 'duplicate', 'stored']);
    expect(await second).toEqual(['stored']);
    expect(written.sort()).toEqual(['engagement:other-reader', 'engagement:reader', 'engagement:reader', 'hit:viewer']);
    expect(marked).toEqual(['viewer']);
  });
});

describe('HitWriter shutdown', () => {
  it('refuses new hits from the first step, and answers what the database did not take in time with 503', async () => {
    const writer = new HitWriter(stalledHits, sessions, new MetricsService(), engagements, shutdownDeadline(1000));
    const queued = writer.write(hits(10));
    writer.onModuleDestroy();
    expect(() => writer.assertRoomFor(1)).toThrow(HttpException);
    await expect(writer.write(hits(1))).rejects.toMatchObject({ status: 503 });
    const started = performance.now();
    // The drain phase ends at half the budget, whatever the database does.
    await writer.beforeApplicationShutdown();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    // Written by a write still in flight or refused: never left without an answer. The stalled
    // write took the whole queue, so this request stays with its write; a fresh one is refused.
    await expect(writer.write(hits(1))).rejects.toMatchObject({ status: 503 });
    void queued.catch(() => undefined);
  });

  it('writes every queued hit before the drain returns when the database answers', async () => {
    const stored: NewHit[] = [];
    const repository = {
      insertMany: async (documents: NewHit[]) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        stored.push(...documents);
        return { duplicateIndexes: [], failedIndexes: [] };
      },
    } as unknown as HitsRepository;
    const writer = new HitWriter(repository, sessions, new MetricsService(), engagements, shutdownDeadline());
    const answers = Array.from({ length: 20 }, () => writer.write(hits(100)));
    writer.onModuleDestroy();
    await writer.beforeApplicationShutdown();
    expect(stored).toHaveLength(2000);
    await expect(Promise.all(answers)).resolves.toHaveLength(20);
  });
});
