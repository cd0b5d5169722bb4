import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import { Types, type PipelineStage } from 'mongoose';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { HitsRepository } from '../hits/hits.repository.js';
import {
  VISIT_ATTRIBUTION_FIELDS,
  attributionOf,
  continueVisits,
  sessionize,
  type SessionHit,
  type VisitGroup,
} from './sessionize.js';
import {
  VisitorDirtyRepository,
  type ClaimedBatch,
  type ClaimedVisitor,
  type DirtyMark,
} from './visitor-dirty.repository.js';
import { VisitorIdentity, type VisitorIdentityInput } from './visitor-identity.js';
import { groupBy } from '../common/collections/group-by.js';
import { widenToWholeVisits, type Span } from './visit-window.js';
import type { Visit } from './schemas/visit.schema.js';
import { VisitChangesRepository } from './visit-changes.repository.js';
import { VisitsRepository, type VisitChanges } from './visits.repository.js';

/** What `markDirty` takes: part of this service's interface for the ingest writer. */
export type { DirtyMark };

/** How long a sessionizer may hold a visitor before another instance may take it over. */
const LEASE_MS = 30_000;
/**
 * Visitors leased and recomputed together: reads and writes cost per batch, not per visitor
 * (about a dozen sequential store round trips whatever the size, fewer when every visitor
 * continues its last visit: one read round instead of two or more), so the sessionizer keeps
 * up with ingest. The first claim of a background worker, and every `flush`
 * claim.
 */
const BATCH_SIZE = 250;
/**
 * Under a backlog a background worker doubles its claim while claims come back full, up to this
 * (`nextBatchSize`): a batch costs about the same round trips whatever its size, so in
 * `npm run bench -- sessionizer-drain` (20,000 visitors' marks, docs/SCALING.md) claims growing
 * to 2,000 sent a seventh of the store commands per visitor of batches of 250: a seventh as
 * many waits behind a rollup run's long store operations (the store answers one at a time). The
 * drain rate moved less: on a quiet machine it is bound by the app's and the store's CPU per
 * visitor, which batch size barely changes. Not larger: a batch's
 * recomputation runs between two awaits on the thread that answers HTTP (about 10 µs a visitor,
 * ~20 ms here), and a claim leases that many visitors for LEASE_MS.
 */
const MAX_BATCH_SIZE = 2_000;
/**
 * Batches in flight at once in the background, so one batch's reads overlap another's writes.
 * Four were measured in the drain bench and were no faster (docs/SCALING.md).
 */
const BACKGROUND_BATCHES = 2;
/** Picks up work left by an instance that died holding a lease. */
const SWEEP_INTERVAL_MS = 30_000;
/**
 * Background passes start at most this often. Every group commit asks for one, and a pass costs
 * about a dozen store round trips however few visitors it takes: at 500 hits/s in batches of 100
 * a pass per write was most of the app's commands to its store. Marks of the writes in between
 * wait (in MongoDB) and are taken by the next pass in larger batches. The first request after a
 * quiet second still starts a pass at once; stats reads `flush` whatever is marked anyway.
 */
export const BACKGROUND_PASS_GAP_MS = 1_000;
const FLUSH_POLL_MS = 20;
/** Visits given their attribution per store round trip, and per background pass, on an upgrade. */
const ATTRIBUTION_FILL_BATCH = 200;
const ATTRIBUTION_FILL_PER_PASS = 5_000;
const FLUSH_TIMEOUT_MS = 2 * LEASE_MS + 10_000;

/** `flush` ran out of time: visits of some hits acknowledged before the call are still being computed. */
export class VisitsPendingError extends Error {
  override readonly name = 'VisitsPendingError';

  /** `atLeast`: the backlog was not counted past `pendingVisitors` (see `flush`'s `backlogLimit`). */
  constructor(
    readonly pendingVisitors: number,
    readonly atLeast = false,
  ) {
    super(`Visits of ${atLeast ? 'more than ' : ''}${pendingVisitors} visitors are still being computed`);
  }
}

/**
 * Visitor identity and visits (definitions in docs/metrics.md).
 *
 * Visits are a pure function of a visitor's hits sorted by time. Ingest writes the hits, then
 * marks the visitor dirty (`markDirty`); a sessionizer — in the background after the writes
 * (at most one pass a second, BACKGROUND_PASS_GAP_MS), or in `flush()` — claims a batch of marks
 * with a lease, continues each visitor's last visit with hits that come after it or recomputes
 * the visits of the window widened to whole visits, and retires a mark only if nobody marked it
 * again meanwhile.
 * All coordination is in MongoDB (atomic upserts, leases, revs), so any number of instances
 * may ingest for the same visitor and arrival order never changes the result.
 */
@Injectable()
export class SessionsService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(SessionsService.name);
  private readonly identity: VisitorIdentity;
  private readonly idleMs: number;
  private background: Promise<void> | undefined;
  /** When the last background pass started (performance.now()), and the timer of the next one. */
  private lastPassStarted = Number.NEGATIVE_INFINITY;
  private passTimer: NodeJS.Timeout | undefined;
  /** Whether every stored visit has its referrer and UTM fields (see `fillMissingAttribution`). */
  private attributionFilled = false;
  private backgroundAgain = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private backgroundDeferred = false;

  constructor(
    @Inject(trackingConfig.KEY) config: TrackingConfig,
    private readonly hits: HitsRepository,
    private readonly visits: VisitsRepository,
    private readonly dirty: VisitorDirtyRepository,
    private readonly changes: VisitChangesRepository,
    private readonly shutdown: ShutdownDeadline,
  ) {
    this.identity = new VisitorIdentity(config.visitorSecret, config.visitorIdMode);
    this.idleMs = config.sessionIdleMinutes * 60_000;
  }

  onModuleInit(): void {
    this.sweepTimer = setInterval(() => this.sessionizeInBackground(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /**
   * Shutdown: no new pass starts, and a pass (or `flush`) in progress stops after its current
   * batch. A batch cut by the deadline keeps its marks: its lease expires and the visits are
   * computed by the next start or another instance.
   */
  onModuleDestroy(): void {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    clearTimeout(this.passTimer);
    this.passTimer = undefined;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.onModuleDestroy();
    await this.shutdown.settle('Sessionizer', 'drain', this.background);
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

  /**
   * Starts (or re-arms) the background sessionizer, at most one pass per BACKGROUND_PASS_GAP_MS:
   * a call during a pass, or sooner than that after the last one started, has the next pass
   * start when the gap is over. Never throws, never blocks the caller.
   */
  sessionizeInBackground(): void {
    if (this.stopping || this.backgroundDeferred) return;
    if (this.background) {
      this.backgroundAgain = true;
      return;
    }
    if (this.passTimer) return;
    const wait = this.lastPassStarted + BACKGROUND_PASS_GAP_MS - performance.now();
    if (wait <= 0) return this.startBackgroundPass();
    this.passTimer = setTimeout(() => {
      this.passTimer = undefined;
      this.sessionizeInBackground();
    }, wait);
    this.passTimer.unref();
  }

  private startBackgroundPass(): void {
    this.lastPassStarted = performance.now();
    this.backgroundAgain = false;
    this.background = this.runBackground().finally(() => {
      this.background = undefined;
      if (this.backgroundAgain) this.sessionizeInBackground();
    });
  }

  /**
   * Resolves when every visitor marked before the call (of `siteId`, or of all sites) has its
   * visits computed, whichever instance does the work. Stats call it before reading. Marks that
   * arrive during the call are not waited for, so a read never chases a steady stream of ingest.
   * Throws `VisitsPendingError` after `timeoutMs` (a backlog, e.g. after a large import, or a
   * lease held by an instance that died, which expires after 30 s), or once shutdown began; at
   * once, without reading or claiming anything more, when more than `backlogLimit` visitors are
   * marked: a backlog the caller could not work off before its deadline anyway.
   */
  async flush(
    siteId?: string,
    concurrency = 1,
    timeoutMs = FLUSH_TIMEOUT_MS,
    backlogLimit = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const site = siteId === undefined ? undefined : new Types.ObjectId(siteId);
    const snapshot = await this.dirty.snapshot(site, Number.isFinite(backlogLimit) ? backlogLimit + 1 : 0);
    if (snapshot.size > backlogLimit) throw new VisitsPendingError(backlogLimit, true);
    const deadline = Date.now() + timeoutMs;
    let behind = [...snapshot.keys()];
    while (behind.length > 0) {
      const queue = [...behind];
      const worker = async () => {
        while (queue.length > 0 && Date.now() <= deadline && !this.stopping) {
          const ids = queue.splice(0, BATCH_SIZE);
          const batch = await this.dirty.claimBatch(new Date(), LEASE_MS, ids.length, ids);
          if (batch) await this.processBatch(batch);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      behind = await this.dirty.stillBehind(snapshot);
      if (behind.length === 0) return;
      // Shutting down: the marks stay in MongoDB, for the next start (or another instance).
      if (Date.now() > deadline || this.stopping) throw new VisitsPendingError(behind.length);
      // Someone else holds a lease on the rest: wait for them (or for the lease to expire).
      await new Promise((resolve) => setTimeout(resolve, FLUSH_POLL_MS));
    }
  }

  /** One background pass: every free batch, then old visits' attribution while some lack it. */
  private async runBackground(): Promise<void> {
    try {
      await this.drain(BACKGROUND_BATCHES);
      if (!this.attributionFilled && !this.stopping) await this.fillMissingAttribution(ATTRIBUTION_FILL_PER_PASS);
    } catch (error) {
      this.logger.warn(
        `Sessionizer pass failed, will retry: ${error instanceof Error ? error.message : String(error)}`,
      );
      // Not re-armed by calls made during the failed pass: the next write or sweep retries.
      this.backgroundAgain = false;
    }
  }

  /**
   * Upgrade path: visits stored before visits carried their first hit's referrer and UTM fields
   * get them from that hit, up to `limit` per call (a background pass, after its batches), so
   * that breakdowns by those fields count old visits too (docs/metrics.md). The stats rollups
   * count each visit's hits under those fields, so a filled visit is marked changed, before the
   * write (a crash after it leaves the mark) and after it (a rollup batch that took the first mark
   * before the write takes the visit again). Returns how many visits were filled; once a call
   * finds none, later passes skip the (unindexed) look-up.
   */
  async fillMissingAttribution(limit: number): Promise<number> {
    let filled = 0;
    while (filled < limit && !this.stopping) {
      const visits = await this.visits.findVisitsWithoutAttribution(ATTRIBUTION_FILL_BATCH);
      if (visits.length === 0) {
        this.attributionFilled = true;
        break;
      }
      const fills = await Promise.all(
        visits.map(async (visit) => {
          // The visit's first hit: the earliest at its start, ties by id (as `compareHits` orders them).
          const [first] = await this.hits.findVisitorsHits(visit.siteId, [visit.visitorKey], visit.start, visit.start);
          return { _id: visit._id, attribution: attributionOf(first ?? {}) };
        }),
      );
      const bySite = [...groupBy(visits, (visit) => visit.siteId.toHexString()).values()];
      const markChanged = async () => {
        for (const group of bySite)
          await this.changes.mark(
            group[0].siteId,
            group.map((visit) => visit._id),
          );
      };
      await markChanged();
      await this.visits.fillAttribution(fills);
      await markChanged();
      filled += visits.length;
    }
    return filled;
  }

  /**
   * Claims and processes batches of every site until none is free, or until shutdown: under
   * steady ingest there is always new work, and the marks left stay in MongoDB for the next sweep.
   * Each worker's claims grow while they come back full (`nextBatchSize`): a backlog is worked off
   * in large batches, a trickle of marks still in small ones.
   */
  private async drain(concurrency: number): Promise<void> {
    const worker = async () => {
      let size = BATCH_SIZE;
      while (!this.stopping) {
        const batch = await this.dirty.claimBatch(new Date(), LEASE_MS, size);
        if (!batch) return;
        await this.processBatch(batch);
        size = nextBatchSize(size, batch.visitors.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /**
   * Recomputes a claimed batch and retires its marks. Once shutdown began, a batch that has not
   * started writing stops after its reads and gives its windows back (a batch of up to
   * MAX_BATCH_SIZE visitors has about five sequential writes left then), so the shutdown's drain
   * phase waits only for batches already writing, and the next start (or another instance) finds
   * the marks free at once instead of leased for LEASE_MS.
   */
  private async processBatch(batch: ClaimedBatch): Promise<void> {
    let written = true;
    try {
      const bySite = groupBy(batch.visitors, (visitor) => visitor.siteId.toHexString());
      for (const visitors of bySite.values()) {
        written = await this.recomputeSiteVisits(visitors);
        if (!written) break;
      }
    } catch (error) {
      await this.dirty.release(batch.claimToken);
      throw error;
    }
    if (written) await this.dirty.complete(batch);
    else await this.dirty.release(batch.claimToken);
  }

  /**
   * For claimed visitors of one site: computes their visits anew around each changed window and
   * writes what changed. Reads and writes per batch, not per visitor. A visitor whose new hits
   * all come after its stored visits continues its last visit (`continueVisits`) from one read of
   * the new hits; the others (late hits, purges, a visit that started within another) have their
   * windows widened to whole visits and recomputed from all their hits (`widenToWholeVisits`).
   * Returns false, having written nothing, when shutdown began during the reads.
   */
  private async recomputeSiteVisits(visitors: ClaimedVisitor[]): Promise<boolean> {
    const siteId = visitors[0].siteId;
    const changes: VisitChanges = { created: [], changed: [], staleIds: [] };
    const assignments: Array<{ visitId: string; hitIds: Types.ObjectId[] }> = [];
    const widened = await this.continueLastVisits(siteId, visitors, changes, assignments);
    const settled = await this.widenWindows(siteId, widened);
    if (this.stopping) return false;
    for (const [visitorKey, { window, hits, visits }] of settled) {
      const inWindow = hits.filter((hit) => hit.ts.getTime() >= window.from && hit.ts.getTime() <= window.to);
      const groups = sessionize(siteId, visitorKey, inWindow, this.idleMs);
      addVisitChanges(
        changes,
        window,
        visits,
        groups.map((group) => group.visit),
      );
      addAssignments(assignments, inWindow, groups);
    }
    // Marked before the writes (a crash after them leaves no change unmarked) and after (a rollup
    // batch that claimed the first mark may have read the visit as it was). The hits get their
    // visit ids before the second mark: the rollup job reads a changed visit's hits by visit id
    // (its hits per day, its funnel steps), so a batch that takes that mark must find them stamped.
    const changedIds = [...changes.created, ...changes.changed].map((visit) => visit._id).concat(changes.staleIds);
    await this.changes.mark(siteId, changedIds);
    await this.visits.writeVisitChanges(changes);
    await this.hits.assignVisits(assignments);
    await this.changes.mark(siteId, changedIds);
    return true;
  }

  /**
   * The common case of live traffic, a visitor's new hits after its last visit, without reading
   * that visit's hits again: reads the visitors' hits from the earliest window on and their
   * stored visits within `idleMs` before it. A visitor whose stored visits all end before its
   * window, and whose hits read up to the last visit's end all belong to stored visits, continues
   * the last visit with the hits after it (the window holds nothing but new visits and the end of the
   * last one, so this is what recomputing from all its hits gives). Adds those visitors' changes
   * and returns the others, for `widenWindows`.
   */
  private async continueLastVisits(
    siteId: Types.ObjectId,
    visitors: ClaimedVisitor[],
    changes: VisitChanges,
    assignments: Array<{ visitId: string; hitIds: Types.ObjectId[] }>,
  ): Promise<Array<{ visitorKey: string; window: Span }>> {
    const windows = visitors.map((visitor) => ({
      visitorKey: visitor.visitorKey,
      window: { from: visitor.from.getTime(), to: visitor.to.getTime() },
    }));
    const from = Math.min(...windows.map((item) => item.window.from));
    const to = Math.max(...windows.map((item) => item.window.to)) + this.idleMs;
    const keys = windows.map((item) => item.visitorKey);
    const { hitsOf, visitsOf } = await this.readVisitors(siteId, keys, { from, to }, { from: from - this.idleMs, to });
    const others: typeof windows = [];
    for (const item of windows) {
      const visitorHits = hitsOf.get(item.visitorKey) ?? [];
      const stored = visitsOf.get(item.visitorKey) ?? [];
      const last = stored.reduce<Visit | undefined>(
        (latest, visit) => (latest && latest.end >= visit.end ? latest : visit),
        undefined,
      );
      const lastEnd = last?.end.getTime() ?? Number.NEGATIVE_INFINITY;
      const storedIds = new Set(stored.map((visit) => visit._id));
      const after = visitorHits.filter((hit) => hit.ts.getTime() > lastEnd);
      const continues =
        after.length > 0 &&
        lastEnd < item.window.from &&
        // A visit stored before visits carried their traffic source, or `singleClass`, gets them from a recomputation.
        (last === undefined || ('utmSource' in last && 'singleClass' in last)) &&
        visitorHits.every((hit) => hit.ts.getTime() > lastEnd || storedIds.has(hit.visitId ?? '')) &&
        // The last new hit's visit could reach hits not read: widen instead.
        after[after.length - 1].ts.getTime() + this.idleMs <= to;
      if (!continues) {
        others.push(item);
        continue;
      }
      const groups = continueVisits(siteId, item.visitorKey, last, after, this.idleMs);
      for (const { visit } of groups) (visit._id === last?._id ? changes.changed : changes.created).push(visit);
      addAssignments(assignments, after, groups);
    }
    return others;
  }

  /** One read round of the sessionizer: these visitors' hits in `hitSpan` and stored visits overlapping `visitSpan`, by visitor. */
  private async readVisitors(
    siteId: Types.ObjectId,
    keys: string[],
    hitSpan: Span,
    visitSpan: Span,
  ): Promise<{ hitsOf: Map<string, Array<SessionHit & { visitorKey: string }>>; visitsOf: Map<string, Visit[]> }> {
    const [hits, visits] = await Promise.all([
      this.hits.findVisitorsHits(siteId, keys, new Date(hitSpan.from), new Date(hitSpan.to)),
      this.visits.findVisitorsVisitsOverlapping(siteId, keys, new Date(visitSpan.from), new Date(visitSpan.to)),
    ]);
    return {
      hitsOf: groupBy(hits, (hit) => hit.visitorKey),
      visitsOf: groupBy(visits, (visit) => visit.visitorKey),
    };
  }

  /**
   * Widens each visitor's changed window to whole visits (see `widenToWholeVisits`), reading
   * hits and visits for all of them at once, round after round until every window has settled;
   * returns each window with the hits and stored visits read for it.
   */
  private async widenWindows(
    siteId: Types.ObjectId,
    windows: Array<{ visitorKey: string; window: Span }>,
  ): Promise<Map<string, { window: Span; hits: SessionHit[]; visits: Visit[] }>> {
    const settled = new Map<string, { window: Span; hits: SessionHit[]; visits: Visit[] }>();
    let pending = windows;
    while (pending.length > 0 && !this.stopping) {
      const read = {
        from: Math.min(...pending.map((item) => item.window.from)) - this.idleMs,
        to: Math.max(...pending.map((item) => item.window.to)) + this.idleMs,
      };
      const keys = pending.map((item) => item.visitorKey);
      const { hitsOf, visitsOf } = await this.readVisitors(siteId, keys, read, read);
      const unsettled: typeof pending = [];
      for (const { visitorKey, window } of pending) {
        const visitorHits = hitsOf.get(visitorKey) ?? [];
        const visitorVisits = visitsOf.get(visitorKey) ?? [];
        const widening = widenToWholeVisits(
          window,
          {
            read,
            hitTimes: visitorHits.map((hit) => hit.ts.getTime()),
            visits: visitorVisits.map((visit) => ({
              start: visit.start.getTime(),
              end: visit.end.getTime(),
            })),
          },
          this.idleMs,
        );
        if (!widening.settled) unsettled.push({ visitorKey, window: widening.window });
        else settled.set(visitorKey, { window: widening.window, hits: visitorHits, visits: visitorVisits });
      }
      pending = unsettled;
    }
    return settled;
  }

  /**
   * For the stats rollups, the visit-change outbox (VisitChange): claims at most `limit` marked
   * visits for rollup batch `batch` and returns how many.
   */
  claimVisitChanges(batch: number, limit: number): Promise<number> {
    return this.changes.claim(batch, limit);
  }

  /** The visits claimed by rollup batch `batch`, each as stored now (null: deleted). */
  findClaimedVisitChanges(batch: number): Promise<Array<{ visitId: string; visit: Visit | null }>> {
    return this.changes.findClaimed(batch);
  }

  /** The rollups took in batch `batch`'s visit changes. */
  completeVisitChanges(batch: number): Promise<void> {
    return this.changes.complete(batch);
  }

  /** Marks every visit of the site as changed (its visit rollups are rebuilt from scratch). */
  markSiteVisitsChanged(siteId: Types.ObjectId): Promise<void> {
    return this.changes.markSite(siteId);
  }

  /** Runs a stats pipeline over the visits (read only; the stats module builds it). */
  aggregateVisits<T extends object>(pipeline: PipelineStage[]): Promise<T[]> {
    return this.visits.aggregate<T>(pipeline);
  }
}

/**
 * The size of a background worker's next claim: twice the last (up to MAX_BATCH_SIZE) while
 * claims come back full — a backlog — and BATCH_SIZE again once one does not.
 */
export function nextBatchSize(claimed: number, got: number): number {
  return got >= claimed ? Math.min(2 * claimed, MAX_BATCH_SIZE) : BATCH_SIZE;
}

/** Stamps each group's visit id on those of its hits that carry another (or none). */
function addAssignments(
  assignments: Array<{ visitId: string; hitIds: Types.ObjectId[] }>,
  hits: SessionHit[],
  groups: VisitGroup[],
): void {
  const assigned = new Map(hits.map((hit) => [hit._id.toHexString(), hit.visitId]));
  for (const { visit, hitIds } of groups) {
    assignments.push({
      visitId: visit._id,
      hitIds: hitIds.filter((id) => assigned.get(id.toHexString()) !== visit._id),
    });
  }
}

/**
 * What makes a visitor's window hold exactly `computed`, given the stored visits read around it
 * in the round its window settled: every stored visit starting in the window overlaps that read,
 * so the stored ones starting there that were not recomputed are exactly the stale ones, and a
 * recomputed visit equal to its stored copy needs no write.
 */
function addVisitChanges(changes: VisitChanges, window: Span, stored: Visit[], computed: Visit[]): void {
  const storedById = new Map(stored.map((visit) => [visit._id, visit]));
  for (const visit of computed) {
    const previous = storedById.get(visit._id);
    if (previous === undefined) changes.created.push(visit);
    else if (!sameVisit(previous, visit)) changes.changed.push(visit);
  }
  const computedIds = new Set(computed.map((visit) => visit._id));
  for (const visit of stored) {
    const start = visit.start.getTime();
    if (start >= window.from && start <= window.to && !computedIds.has(visit._id)) changes.staleIds.push(visit._id);
  }
}

function sameVisit(a: Visit, b: Visit): boolean {
  return (
    a.siteId.equals(b.siteId) &&
    a.visitorKey === b.visitorKey &&
    a.start.getTime() === b.start.getTime() &&
    a.end.getTime() === b.end.getTime() &&
    a.pageviews === b.pageviews &&
    a.hits === b.hits &&
    a.bounce === b.bounce &&
    a.duration === b.duration &&
    sameValue(a.entryPath, b.entryPath) &&
    sameValue(a.exitPath, b.exitPath) &&
    a.classification === b.classification &&
    a.singleClass === b.singleClass &&
    VISIT_ATTRIBUTION_FIELDS.every((field) => sameValue(a[field], b[field])) &&
    sameValue(a.countryCode, b.countryCode)
  );
}

/** An optional field's values compared, absent (a stored visit leaves null fields out) being null. */
function sameValue(a: string | null | undefined, b: string | null | undefined): boolean {
  return (a ?? null) === (b ?? null);
}
