import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Types } from 'mongoose';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { HitsRepository } from '../ingestion/hits.repository.js';
import { sessionize } from './sessionize.js';
import { VisitorDirtyRepository, type ClaimedVisitor, type DirtyMark } from './visitor-dirty.repository.js';
import { VisitorIdentity, type VisitorIdentityInput } from './visitor-identity.js';
import { VisitsRepository } from './visits.repository.js';

/** How long a sessionizer may hold a visitor before another instance may take it over. */
const LEASE_MS = 30_000;
const BACKGROUND_WORKERS = 4;
/** Picks up work left by an instance that died holding a lease. */
const SWEEP_INTERVAL_MS = 30_000;
const FLUSH_POLL_MS = 20;
const FLUSH_TIMEOUT_MS = 2 * LEASE_MS + 10_000;

/**
 * Visitor identity and visits (SPEC §4).
 *
 * Visits are a pure function of a visitor's hits sorted by time. Ingest writes the hits, then
 * marks the visitor dirty (`markDirty`); a sessionizer — in the background right after each
 * write, or in `flush()` — claims the mark with a lease, recomputes the visits of the window
 * widened to whole visits, and retires the mark only if nobody marked it again meanwhile.
 * All coordination is in MongoDB (atomic upserts, leases, revs), so any number of instances
 * may ingest for the same visitor and arrival order never changes the result.
 */
@Injectable()
export class SessionsService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(SessionsService.name);
  private readonly identity: VisitorIdentity;
  private readonly idleMs: number;
  private background: Promise<void> | undefined;
  private backgroundAgain = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private backgroundDeferred = false;

  constructor(
    @Inject(trackingConfig.KEY) config: TrackingConfig,
    private readonly hits: HitsRepository,
    private readonly visits: VisitsRepository,
    private readonly dirty: VisitorDirtyRepository,
  ) {
    this.identity = new VisitorIdentity(config.visitorSecret, config.visitorIdMode);
    this.idleMs = config.sessionIdleMinutes * 60_000;
  }

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => this.sessionizeInBackground(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    await this.background;
  }

  visitorKey(input: VisitorIdentityInput): string {
    return this.identity.visitorKey(input);
  }

  userKey(siteId: string, userId: string): string {
    return this.identity.userKey(siteId, userId);
  }

  /** Records that these visitors have new hits between `from` and `to`. Call after the hits are written. */
  async markDirty(marks: DirtyMark[]): Promise<void> {
    if (marks.length > 0) await this.dirty.mark(marks);
  }

  /**
   * After a site's hits before `before` were purged: deletes the visits that began before it and
   * has the visits it cut in two recomputed from the hits that remain. Returns visits deleted.
   */
  async purgeVisitsBefore(siteId: Types.ObjectId, before: Date): Promise<number> {
    const spanning = await this.visits.findVisitsSpanning(siteId, before);
    const deleted = await this.visits.deleteVisitsStartingBefore(siteId, before);
    await this.markDirty(
      spanning.map((visit) => ({ siteId, visitorKey: visit.visitorKey, from: before, to: visit.end })),
    );
    this.sessionizeInBackground();
    return deleted;
  }

  /** Deletes every visit of these visitors on one site (erasure of an identified user). */
  eraseVisitorsVisits(siteId: Types.ObjectId, visitorKeys: string[]): Promise<number> {
    return this.visits.deleteVisitorsVisits(siteId, visitorKeys);
  }

  /**
   * For bulk loads (the CLI `import`): background passes stop, so a visitor touched by many
   * batches is sessionized once — by a `flush` at the end, or by any other instance's sweep —
   * instead of once per batch. Marks still accumulate (merged per visitor).
   */
  deferBackgroundSessionizing(): void {
    this.backgroundDeferred = true;
  }

  /** Starts (or re-arms) the background sessionizer; never throws, never blocks the caller. */
  sessionizeInBackground(): void {
    if (this.stopping || this.backgroundDeferred) return;
    if (this.background) {
      this.backgroundAgain = true;
      return;
    }
    this.background = this.runBackground().finally(() => {
      this.background = undefined;
    });
  }

  /**
   * Resolves when every visitor marked before the call (of `siteId`, or of all sites) has its
   * visits computed, whichever instance does the work. Stats call it before reading. Marks that
   * arrive during the call are not waited for, so a read never chases a steady stream of ingest.
   */
  async flush(siteId?: string, workers = 1): Promise<void> {
    const site = siteId === undefined ? undefined : new Types.ObjectId(siteId);
    const snapshot = await this.dirty.snapshot(site);
    const deadline = Date.now() + FLUSH_TIMEOUT_MS;
    let behind = [...snapshot.keys()];
    while (behind.length > 0) {
      const queue = [...behind];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const item = await this.dirty.claimIfBehind(id, snapshot.get(id) ?? 0, new Date(), LEASE_MS);
          if (item) await this.processClaimed(item);
        }
      };
      await Promise.all(Array.from({ length: workers }, worker));
      behind = await this.dirty.stillBehind(snapshot);
      if (behind.length === 0) return;
      if (Date.now() > deadline) throw new Error('Timed out waiting for visits to be computed');
      // Someone else holds a lease on the rest: wait for them (or for the lease to expire).
      await new Promise((resolve) => setTimeout(resolve, FLUSH_POLL_MS));
    }
  }

  private async runBackground(): Promise<void> {
    do {
      this.backgroundAgain = false;
      try {
        await this.drain(BACKGROUND_WORKERS);
      } catch (error) {
        this.logger.warn(
          `Sessionizer pass failed, will retry: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
    } while (this.backgroundAgain && !this.stopping);
  }

  /**
   * Claims and processes work items of every site until none is free, or until shutdown: under
   * steady ingest there is always new work, and the marks left stay in MongoDB for the next sweep.
   */
  private async drain(workers: number): Promise<void> {
    const worker = async () => {
      while (!this.stopping) {
        const item = await this.dirty.claimNext(new Date(), LEASE_MS);
        if (!item) return;
        await this.processClaimed(item);
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
  }

  private async processClaimed(claimed: ClaimedVisitor): Promise<void> {
    try {
      await this.recomputeVisits(claimed);
    } catch (error) {
      await this.dirty.release(claimed);
      throw error;
    }
    // A mark since the claim means hits we may not have seen: give it back to run again.
    if (!(await this.dirty.completeIfUnchanged(claimed))) await this.dirty.release(claimed, true);
  }

  /**
   * Widens [from, to] until it is bounded by gaps longer than the idle timeout on both sides
   * (absorbing any stored visit it touches), then replaces the visits inside it with the
   * sessionization of its hits in time order.
   */
  private async recomputeVisits({ siteId, visitorKey, from, to }: ClaimedVisitor): Promise<void> {
    let lo = from.getTime();
    let hi = to.getTime();
    for (;;) {
      let nextLo = lo;
      let nextHi = hi;
      const overlapping = await this.visits.findVisitorVisitsOverlapping(
        siteId,
        visitorKey,
        new Date(lo - this.idleMs),
        new Date(hi + this.idleMs),
      );
      for (const visit of overlapping) {
        nextLo = Math.min(nextLo, visit.start.getTime());
        nextHi = Math.max(nextHi, visit.end.getTime());
      }
      const before = await this.hits.findEarliestVisitorHitBefore(
        siteId,
        visitorKey,
        new Date(nextLo - this.idleMs),
        new Date(nextLo),
      );
      if (before) nextLo = before.getTime();
      const after = await this.hits.findLatestVisitorHitAfter(
        siteId,
        visitorKey,
        new Date(nextHi),
        new Date(nextHi + this.idleMs),
      );
      if (after) nextHi = after.getTime();
      if (nextLo === lo && nextHi === hi) break;
      lo = nextLo;
      hi = nextHi;
    }
    const window = { from: new Date(lo), to: new Date(hi) };
    const hits = await this.hits.findVisitorHits(siteId, visitorKey, window.from, window.to);
    const groups = sessionize(siteId, visitorKey, hits, this.idleMs);
    await this.visits.replaceVisitorVisits(
      siteId,
      visitorKey,
      window.from,
      window.to,
      groups.map((group) => group.visit),
    );
    const assigned = new Map(hits.map((hit) => [hit._id.toHexString(), hit.visitId]));
    await this.hits.assignVisits(
      groups.map(({ visit, hitIds }) => ({
        visitId: visit._id,
        hitIds: hitIds.filter((id) => assigned.get(id.toHexString()) !== visit._id),
      })),
    );
  }
}
