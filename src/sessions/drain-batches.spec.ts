import { describe, expect, it } from '@jest/globals';
import type { HttpAdapterHost } from '@nestjs/core';
import { Types } from 'mongoose';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import type { AppConfig, TrackingConfig } from '../config/configuration.js';
import type { HitsRepository } from '../hits/hits.repository.js';
import { SessionsService } from './sessions.service.js';
import type { VisitChangesRepository } from './visit-changes.repository.js';
import type { ClaimedBatch, VisitorDirtyRepository } from './visitor-dirty.repository.js';
import type { VisitsRepository } from './visits.repository.js';

/**
 * A sessionizer over a work list of `backlog` visitors with no hits (or one each: `withHits`) and no visits; `claims` lists
 * the size each claim asked for, in order. `shortAt`: the claim with this index comes back with
 * fewer visitors than asked (another instance took the rest), though more remain.
 */
function sessionizer(
  backlog: number,
  shortAt = -1,
  withHits = false,
): { sessions: SessionsService; claims: number[]; calls: string[]; onRead: { hook: () => void } } {
  const claims: number[] = [];
  /** Every write, release and completion, in order. */
  const calls: string[] = [];
  const onRead = { hook: () => undefined as void };
  let remaining = backlog;
  const siteId = new Types.ObjectId();
  const dirty = {
    claimBatch: (_now: Date, _leaseMs: number, limit: number): Promise<ClaimedBatch | null> => {
      claims.push(limit);
      const size = Math.min(claims.length - 1 === shortAt ? limit - 1 : limit, remaining);
      remaining -= size;
      if (size === 0) return Promise.resolve(null);
      const visitors = Array.from({ length: size }, (_, index) => ({
        siteId,
        visitorKey: `visitor-${remaining + index}`,
        from: new Date(0),
        to: new Date(0),
      }));
      return Promise.resolve({ claimToken: `claim-${claims.length}`, visitors });
    },
    complete: () => record('complete'),
    release: () => record('release'),
  } as unknown as VisitorDirtyRepository;
  const record = (call: string): Promise<void> => {
    calls.push(call);
    return Promise.resolve();
  };
  const hits = {
    findVisitorsHits: (_siteId: Types.ObjectId, visitorKeys: string[]) => {
      onRead.hook();
      // `withHits`: one new page view of each visitor.
      const hit = (visitorKey: string) => ({
        _id: new Types.ObjectId(),
        visitorKey,
        ts: new Date(0),
        name: 'pageview',
        path: '/',
        classification: 'USER',
        visitId: null,
      });
      return Promise.resolve(withHits ? visitorKeys.map(hit) : []);
    },
    assignVisits: () => record('assignVisits'),
  } as unknown as HitsRepository;
  const visits = {
    findVisitorsVisitsOverlapping: () => Promise.resolve([]),
    findVisitsWithoutAttribution: () => Promise.resolve([]),
    writeVisitChanges: () => record('writeVisitChanges'),
  } as unknown as VisitsRepository;
  const changes = { mark: () => record('markChanged') } as unknown as VisitChangesRepository;
  const config = { visitorSecret: 'secret', visitorIdMode: 'daily', sessionIdleMinutes: 30 } as TrackingConfig;
  const shutdown = new ShutdownDeadline({ shutdownTimeoutMs: 8000 } as AppConfig, {} as HttpAdapterHost);
  const sessions = new SessionsService(config, hits, visits, dirty, changes, shutdown);
  return { sessions, claims, calls, onRead };
}

/** Runs one background pass to its end. */
async function pass(sessions: SessionsService): Promise<void> {
  sessions.sessionizeInBackground();
  await (sessions as unknown as { background: Promise<void> | undefined }).background;
}

describe('background sessionizer batch sizes', () => {
  it('claims larger batches while claims come back full, up to 2,000 visitors', async () => {
    const { sessions, claims } = sessionizer(20_000);
    await pass(sessions);
    // Two workers, each doubling its own claim: 250, 500, 1,000, then 2,000 until the backlog runs out.
    expect(claims.slice(0, 8).sort((a, b) => a - b)).toEqual([250, 250, 500, 500, 1_000, 1_000, 2_000, 2_000]);
    expect(Math.max(...claims)).toBe(2_000);
    // 3,500 visitors while growing, 9 claims for the other 16,500, and one empty claim per worker
    // that ends the pass: 17 claims where batches of 250 took 82.
    expect(claims).toHaveLength(17);
    sessions.onModuleDestroy();
  });

  it('goes back to the first size after a claim that was not full', async () => {
    const { sessions, claims } = sessionizer(20_000, 4);
    await pass(sessions);
    // Claim 4 asked for 1,000 and came back one short: that worker starts again at 250 and
    // doubles anew, while the other goes on to 2,000.
    expect(claims.slice(0, 5)).toEqual([250, 250, 500, 500, 1_000]);
    expect(claims.slice(5, 9)).toEqual([1_000, 250, 2_000, 500]);
    sessions.onModuleDestroy();
  });

  it('gives a batch back unwritten when shutdown begins during its reads, and claims no more', async () => {
    const { sessions, claims, calls, onRead } = sessionizer(20_000);
    // SIGTERM arrives while the first batches read their hits.
    onRead.hook = () => sessions.onModuleDestroy();
    await pass(sessions);
    expect(claims).toEqual([250, 250]);
    expect(calls).toEqual(['release', 'release']);
  });

  it('stamps the hits with their visit ids before it marks the visits changed again', async () => {
    // A rollup batch that takes the second mark reads the visit's hits by visit id.
    const { sessions, calls } = sessionizer(1, -1, true);
    await pass(sessions);
    expect(calls).toEqual(['markChanged', 'writeVisitChanges', 'assignVisits', 'markChanged', 'complete']);
    sessions.onModuleDestroy();
  });
});
