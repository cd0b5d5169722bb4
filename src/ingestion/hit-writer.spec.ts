import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import { Types } from 'mongoose';
import { MetricsService } from '../metrics/metrics.service.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import { HitWriter, MAX_QUEUED_HITS } from './hit-writer.js';
import type { HitsRepository, NewHit } from './hits.repository.js';

/** A database that never answers: everything written stays queued. */
const stalledHits = { insertMany: () => new Promise(() => undefined) } as unknown as HitsRepository;
const sessions = {
  markDirty: () => Promise.resolve(),
  sessionizeInBackground: () => undefined,
} as unknown as SessionsService;

function hits(count: number): NewHit[] {
  return Array.from({ length: count }, () => ({ _id: new Types.ObjectId() }) as NewHit);
}

describe('HitWriter load shedding', () => {
  it('refuses up front with 503 and Retry-After exactly when write would refuse for a full queue', async () => {
    const writer = new HitWriter(stalledHits, sessions, new MetricsService());
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
