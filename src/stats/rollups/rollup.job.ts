import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { Types } from 'mongoose';
import { randomUUID } from 'node:crypto';
import { groupBy } from '../../common/collections/group-by.js';
import { ShutdownDeadline } from '../../common/lifecycle/shutdown-deadline.js';
import { formatCalendarDate, zonedDate } from '../../common/time/calendar.js';
import { Clock } from '../../common/time/clock.js';
import { LeaseService } from '../../database/leases/lease.service.js';
import { SessionsService } from '../../sessions/sessions.service.js';
import { slicesOf } from '../../database/slices.js';
import type { Visit } from '../../sessions/schemas/visit.schema.js';
import { SitesService } from '../../sites/sites.service.js';
import { StatsRepository, type HitBucket } from '../stats.repository.js';
import { daySlice, daySlicesOf, mergeDaySlices } from './rollup-days.js';
import { HitsRepository } from '../../hits/hits.repository.js';
import {
  BATCH_FIELDS,
  batchDeltas,
  visitContribution,
  visitHourDeltas,
  visitSourceDeltas,
  ownHitDays,
  type VisitHit,
  type VisitHitDay,
  type BatchHit,
  type VisitContribution,
} from './batch-deltas.js';
import { RollupRepository, type SiteRollupState } from './rollup.repository.js';
import { VisitorCountsBuilder } from './visitor-counts.builder.js';
import { GoalConversionsBuilder } from './goal-conversions.builder.js';
import { FunnelRowsBuilder } from './funnel-rows.builder.js';

/** How often each instance tries to take the lease and roll up. */
export const ROLLUP_INTERVAL_MS = 30_000;
/** A holder that crashes mid-run blocks the job for at most this long. */
export const ROLLUP_LEASE_MS = 5 * 60_000;
export const ROLLUP_LEASE = 'stats-rollup';
/**
 * Hits received in the last 30 s are left for the next run. Counting does not depend on it: a
 * hit committed after a run claimed its batch is still `rollupPending` and the next batch takes
 * it. What the window bounds is the watermark reads trust: a hit committed later than this after
 * its `receivedAt` is missing from the rows of its day until the next run. Ingest answers a write
 * not acknowledged within WRITE_DEADLINE_MS (20 s) with 503, so a longer commit is already a
 * fault; 30 s leaves 10 s of margin over it. It also gives the reverse-DNS lookup, filled in
 * after the write, time to land before the rollups take the hit; one that lands later is not
 * written (HitsRepository.setNetworkDomain), so rows and raw hits agree.
 */
export const ROLLUP_SETTLE_MS = 30_000;
/** Hits per rollup batch: the batch's deltas are held in memory before they are applied. */
export const ROLLUP_BATCH_HITS = 20_000;

/** Visitors per look-up of changed visits' hits: a bounded command, so one look-up does not hold the store long. */
const VISIT_HIT_VISITORS = 500;

/** A run stopped between two steps because the app is shutting down; the next run redoes it. */
class RollupStopped extends Error {
  override readonly name = 'RollupStopped';
}

export interface RollupRunResult {
  ran: boolean;
  siteDays: number;
}

/**
 * The rollup job. Each run, on whichever instance holds the lease: finish a batch a dead run left
 * (applying it again changes only the rows it did not reach), reset the sites to rebuild (flagged,
 * zone or row version changed: rows deleted and every hit of the site awaiting the rollups again),
 * then have the touched sites' hits sessionized and claim in numbered batches the hits awaiting
 * the rollups (`rollupPending`, received up to now − ROLLUP_SETTLE_MS) and the visits the
 * sessionizer changed (its outbox); add each batch to the visitor rows, visitor sets, hit counts
 * and visit hours (`batchDeltas`, `visitHourDeltas`, applied once per row through `lastBatch`),
 * and to the visitor counts by previous-active-day deltas (VisitorCountsBuilder; recounted whole
 * after a rebuild, and per week as weeks close). Then advance the watermark, which reads use to
 * tell settled days from days read raw. On shutdown a run stops before its next step; the next run resumes it.
 */
@Injectable()
export class RollupJob implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RollupJob.name);
  private readonly holder = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RollupRunResult> | undefined;
  private stopping = false;
  private scheduled = true;

  constructor(
    private readonly rollups: RollupRepository,
    private readonly leases: LeaseService,
    private readonly stats: StatsRepository,
    private readonly sites: SitesService,
    private readonly sessions: SessionsService,
    private readonly hits: HitsRepository,
    private readonly visitorCounts: VisitorCountsBuilder,
    private readonly goalConversions: GoalConversionsBuilder,
    private readonly funnelRows: FunnelRowsBuilder,
    private readonly clock: Clock,
    private readonly shutdown: ShutdownDeadline,
  ) {}

  onModuleInit(): void {
    this.scheduleNext(ROLLUP_INTERVAL_MS);
  }

  /**
   * Runs start every ROLLUP_INTERVAL_MS; a run that took longer than that is followed at once,
   * since the hits it left behind are already due (a fixed timer would add up to a period of
   * idle wait to the stats lag under load). A failed run waits a whole period before the retry.
   */
  private scheduleNext(delayMs: number): void {
    if (!this.scheduled) return;
    this.timer = setTimeout(() => {
      const started = performance.now();
      this.runOnce().then(
        () => this.scheduleNext(Math.max(0, ROLLUP_INTERVAL_MS - (performance.now() - started))),
        (error: unknown) => {
          if (this.stopping) this.logger.log('Rollup run stopped for shutdown; the next start redoes it');
          else
            this.logger.warn(
              `Rollup run failed, will retry: ${error instanceof Error ? error.message : String(error)}`,
            );
          this.scheduleNext(ROLLUP_INTERVAL_MS);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  /** No more runs from the timer; `runOnce` still runs (tests that drive the job themselves). */
  stopSchedule(): void {
    this.scheduled = false;
    clearTimeout(this.timer);
  }

  /** Shutdown: no new run, and a run in progress stops before its next site or day. */
  onModuleDestroy(): void {
    this.stopping = true;
    this.stopSchedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.onModuleDestroy();
    await this.shutdown.settle('Rollup job', 'drain', this.running);
  }

  /** One run, if this instance gets the lease; concurrent calls on one instance share the run. */
  runOnce(): Promise<RollupRunResult> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<RollupRunResult> {
    if (this.stopping) return { ran: false, siteDays: 0 };
    const now = this.clock.now();
    if (!(await this.leases.acquire(ROLLUP_LEASE, this.holder, ROLLUP_LEASE_MS))) return { ran: false, siteDays: 0 };
    try {
      const watermark = await this.rollups.findWatermark();
      const until = new Date(now.getTime() - ROLLUP_SETTLE_MS);
      if (until <= watermark) return { ran: true, siteDays: 0 };
      const zones = new Map((await this.sites.listAll()).map((site) => [site.id, site.timezone]));
      const batchDays = new Map<string, Set<string>>();
      // A batch claimed by a run that died before releasing it is applied first: rows it already reached stay as they are.
      const timing = { countsMs: 0 };
      await this.applyBatch(await this.rollups.findLastBatch(), zones, batchDays, timing);
      const pending = await this.stats.findPendingBuckets({ after: watermark, until });
      const bySite = groupBySite(pending);
      for (const siteId of await this.rollups.findSitesToRebuild()) if (!bySite.has(siteId)) bySite.set(siteId, []);
      // A site whose zone changed is read raw until rebuilt: rebuild it now, not when its next hit comes.
      const builtZones = await this.rollups.findBuiltZones();
      for (const [siteId, timezone] of zones) {
        const builtIn = builtZones.get(siteId);
        if (builtIn !== undefined && builtIn !== timezone && !bySite.has(siteId)) bySite.set(siteId, []);
      }
      const started = performance.now();
      const states = new Map<string, SiteRollupState>();
      for (const siteId of bySite.keys()) {
        const timezone = zones.get(siteId);
        if (timezone === undefined) continue;
        const state = await this.rollups.findSiteState(siteId);
        states.set(siteId, state);
        if (RollupRepository.isUsable(state, timezone)) continue;
        // A rebuild a failed run began (the sessionizer behind, a lost lease, a restart) is resumed:
        // starting it over would redo the marking below, which costs the site's whole history, on
        // every run, and a large site that keeps a run from finishing would never be rolled up.
        if (RollupRepository.isRebuildPrepared(state, timezone)) continue;
        // Rebuilt from scratch by the same additions: no rows, every hit and visit of the site awaiting them.
        await this.rollups.markRebuildStarted(siteId);
        await this.rollups.deleteSiteRows(siteId);
        await this.goalConversions.deleteSite(siteId);
        await this.funnelRows.deleteSite(siteId);
        await this.hits.markSiteForRollup(new Types.ObjectId(siteId));
        await this.sessions.markSiteVisitsChanged(new Types.ObjectId(siteId));
        await this.rollups.markRebuildPrepared(siteId, timezone, state.rebuildRequests);
      }
      // The visits must include every hit the batches take in.
      for (const siteId of bySite.keys()) if (zones.has(siteId)) await this.sessions.flush(siteId);
      // Goals without rows (new, or their site rebuilt) from the hits counted so far; the batches add the rest.
      await this.goalConversions.syncGoals(zones, () => this.renewLease());
      // Saved funnels without rows (new, changed, or their site rebuilt) from the hits and visits as they are.
      await this.funnelRows.syncFunnels(zones, () => this.renewLease());
      for (;;) {
        this.throwIfStopping();
        await this.renewLease();
        const batch = await this.rollups.nextBatch();
        const hits = await this.hits.claimForRollup(batch, until, ROLLUP_BATCH_HITS);
        const visits = await this.sessions.claimVisitChanges(batch, ROLLUP_BATCH_HITS);
        await this.applyBatch(batch, zones, batchDays, timing);
        if (hits < ROLLUP_BATCH_HITS && visits < ROLLUP_BATCH_HITS) break;
      }
      for (const siteId of batchDays.keys()) if (!bySite.has(siteId)) bySite.set(siteId, []);
      let siteDays = 0;
      for (const [siteId, buckets] of bySite) {
        this.throwIfStopping();
        siteDays += await this.rollUpSite(
          siteId,
          { buckets, days: [...(batchDays.get(siteId) ?? [])], state: states.get(siteId) },
          timing,
        );
      }
      await this.rollups.saveWatermark(until);
      // Operators (and the bench) see from this line when the rollups cover a backfill, and what it cost.
      if (siteDays > 0)
        this.logger.log(
          `Rolled up ${siteDays} site-days through ${until.toISOString()} in ${Math.round(performance.now() - started)} ms (visitor counts ${Math.round(timing.countsMs)} ms)`,
        );
      return { ran: true, siteDays };
    } finally {
      await this.leases.release(ROLLUP_LEASE, this.holder);
    }
  }

  private throwIfStopping(): void {
    if (this.stopping) throw new RollupStopped('Stopped for shutdown');
  }

  /** Renewing before each step keeps a long run from outliving the lease and racing a second holder. */
  private async renewLease(): Promise<void> {
    if (!(await this.leases.acquire(ROLLUP_LEASE, this.holder, ROLLUP_LEASE_MS)))
      throw new Error('Lost the rollup lease');
  }

  /**
   * Adds batch `batch` to the derived rows, then releases it; records per site the local days its
   * hits fall on. Hits: their deltas to the visitor rows, visitor sets and hit counts. Visits
   * changed by the sessionizer: the old contribution out of the visit hours and the new one in,
   * recorded first (VisitContributionRow) so that a replay applies the same change. Applying a
   * batch twice adds it once (RollupRepository.applyRowDeltas), so this also finishes a batch a
   * dead run left.
   */
  private async applyBatch(
    batch: number,
    zones: ReadonlyMap<string, string>,
    days: Map<string, Set<string>>,
    timing: { countsMs: number },
  ): Promise<void> {
    if (batch === 0) return;
    const hits = (await this.hits.findRollupBatch(batch, BATCH_FIELDS)) as BatchHit[];
    const deltas = await batchDeltas(hits, zones);
    for (const collection of ['visitorDays', 'visitorSets', 'hitHours', 'hitDays'] as const)
      await this.rollups.applyRowDeltas(collection, batch, deltas[collection]);
    // The visitor counts of sites awaiting a rebuild are recounted whole once their rows are (rollUpSite).
    const countsStarted = performance.now();
    const hitsBySite = groupBy(hits, (hit) => hit.siteId.toHexString());
    for (const [siteId, siteHits] of hitsBySite) {
      const timezone = zones.get(siteId);
      if (timezone === undefined) continue;
      const state = await this.rollups.findSiteState(siteId);
      if (RollupRepository.isUsable(state, timezone))
        await this.visitorCounts.applyBatch(siteId, batch, siteHits, timezone, state.weeksThrough);
    }
    timing.countsMs += performance.now() - countsStarted;
    await this.goalConversions.applyBatch(batch, [...hitsBySite.keys()], zones);
    await this.hits.releaseRollupBatch(batch);
    for (const [siteId, siteDays] of deltas.days) {
      const known = days.get(siteId) ?? new Set<string>();
      for (const day of siteDays) known.add(day);
      days.set(siteId, known);
    }

    const claimed = await this.sessions.findClaimedVisitChanges(batch);
    const recorded = await this.rollups.findVisitSnapshots(batch);
    const recordedIds = new Set(recorded.map((row) => row._id));
    const unrecorded = claimed.filter((change) => !recordedIds.has(change.visitId));
    const currents = new Map(
      (await this.rollups.findVisitContributions(unrecorded.map((change) => change.visitId))).map((row) => [
        row._id,
        row,
      ]),
    );
    // A visit's hits are read only when its own figures do not tell its hits per day (ownHitDays):
    // nearly every visit lies within one local day under one classification.
    const ownDays = new Map<string, VisitHitDay[]>();
    const toRead: Visit[] = [];
    for (const { visitId, visit } of unrecorded) {
      const timezone = visit ? zones.get(visit.siteId.toHexString()) : undefined;
      if (!visit || timezone === undefined) continue;
      const own = ownHitDays(visit as Visit & Record<string, unknown>, timezone);
      if (own) ownDays.set(visitId, own);
      else toRead.push(visit);
    }
    const visitHits = await this.visitHits(toRead);
    const snapshots: Array<{ visitId: string; siteId: Types.ObjectId; next: VisitContribution | null }> = [];
    for await (const slice of slicesOf(unrecorded))
      for (const { visitId, visit } of slice) {
        const timezone = visit ? zones.get(visit.siteId.toHexString()) : undefined;
        const own = ownDays.get(visitId);
        const next =
          visit && timezone !== undefined
            ? visitContribution(
                visit as Visit & Record<string, unknown>,
                timezone,
                own ? { own } : visitHits.get(visitId),
              )
            : null;
        const siteId = visit?.siteId ?? currents.get(visitId)?.siteId;
        if (siteId && (next || currents.has(visitId))) snapshots.push({ visitId, siteId, next });
      }
    await this.rollups.saveVisitSnapshots(batch, snapshots);
    const changes = [
      ...recorded,
      ...snapshots.map(({ visitId, siteId, next }) => ({
        _id: visitId,
        siteId,
        current: currents.get(visitId)?.current,
        next,
      })),
    ];
    await this.rollups.applyRowDeltas(
      'visitHours',
      batch,
      visitHourDeltas(changes.map(({ siteId, current, next }) => ({ siteId, current, next: next ?? null }))),
    );
    await this.rollups.applyRowDeltas(
      'visitSources',
      batch,
      await visitSourceDeltas(changes.map(({ siteId, current, next }) => ({ siteId, current, next: next ?? null }))),
    );
    await this.applyAttributionCounts(batch, changes, zones, timing);
    // The changed visits' funnel rows, before the changes are released (a replay takes them in again).
    await this.funnelRows.applyBatch(batch, claimed, zones);
    await this.sessions.completeVisitChanges(batch);
    await this.rollups.finalizeVisitSnapshots(batch, changes);
    const visitDays = new Map<string, { siteId: Types.ObjectId; days: Set<string> }>();
    for (const { siteId, current, next } of changes)
      for (const contribution of [current, next])
        if (contribution) {
          const entry = visitDays.get(siteId.toHexString()) ?? { siteId, days: new Set<string>() };
          entry.days.add(contribution.day);
          visitDays.set(siteId.toHexString(), entry);
        }
    for (const { siteId, days: touched } of visitDays.values())
      await this.rollups.deleteEmptyVisitHours(siteId, [...touched]);
  }

  /**
   * The attribution counts of batch `batch`'s visit changes (VisitorCountsBuilder.applyVisitChanges),
   * for the sites whose rows are usable (the others are recounted whole once rebuilt), then
   * recorded as applied: the changes are made current next, after which a replay of the batch
   * must not compute them again from a history half made current.
   */
  private async applyAttributionCounts(
    batch: number,
    changes: ReadonlyArray<{ siteId: Types.ObjectId; current?: VisitContribution; next?: VisitContribution | null }>,
    zones: ReadonlyMap<string, string>,
    timing: { countsMs: number },
  ): Promise<void> {
    if (changes.length === 0 || (await this.rollups.findAttributionCountsBatch()) >= batch) return;
    const started = performance.now();
    const visitors = new Map<string, Set<string>>();
    for (const { siteId, current, next } of changes)
      for (const contribution of [current, next])
        if (contribution?.visitorKey !== undefined) {
          const keys = visitors.get(siteId.toHexString()) ?? new Set<string>();
          keys.add(contribution.visitorKey);
          visitors.set(siteId.toHexString(), keys);
        }
    for (const [siteId, keys] of visitors) {
      const timezone = zones.get(siteId);
      if (timezone === undefined) continue;
      const state = await this.rollups.findSiteState(siteId);
      if (RollupRepository.isUsable(state, timezone))
        await this.visitorCounts.applyVisitChanges(siteId, batch, [...keys], state.weeksThrough);
    }
    await this.rollups.saveAttributionCountsBatch(batch);
    timing.countsMs += performance.now() - started;
  }

  /**
   * The hits of these visits, by visit id, as their contributions count them (local day,
   * classification, page view or not): read by visitor and time span (`{ siteId, visitorKey, ts }`),
   * each hit kept for the visit whose id it carries. Costs the changed visits' hits.
   */
  private async visitHits(visits: readonly Visit[]): Promise<Map<string, VisitHit[]>> {
    const byVisit = new Map<string, VisitHit[]>();
    const bySite = new Map<string, Visit[]>();
    for (const visit of visits) {
      const list = bySite.get(visit.siteId.toHexString()) ?? [];
      list.push(visit);
      bySite.set(visit.siteId.toHexString(), list);
    }
    for (const siteVisits of bySite.values()) {
      const spans = new Map<string, { from: Date; to: Date }>();
      for (const visit of siteVisits) {
        const span = spans.get(visit.visitorKey);
        spans.set(visit.visitorKey, {
          from: span && span.from < visit.start ? span.from : visit.start,
          to: span && span.to > visit.end ? span.to : visit.end,
        });
      }
      const wanted = new Set(siteVisits.map((visit) => visit._id));
      // Visitors in order of their spans' starts: a chunk's time range stays close to its visits'.
      const keys = [...spans.keys()].sort((a, b) => spans.get(a)!.from.getTime() - spans.get(b)!.from.getTime());
      for (let offset = 0; offset < keys.length; offset += VISIT_HIT_VISITORS) {
        const chunk = keys.slice(offset, offset + VISIT_HIT_VISITORS);
        const from = new Date(Math.min(...chunk.map((key) => spans.get(key)!.from.getTime())));
        const to = new Date(Math.max(...chunk.map((key) => spans.get(key)!.to.getTime())));
        const hits = await this.hits.aggregate<VisitHit & { visitId?: string }>([
          { $match: { siteId: siteVisits[0].siteId, visitorKey: { $in: chunk }, ts: { $gte: from, $lte: to } } },
          { $project: { _id: 0, visitId: 1, ts: 1, name: 1, classification: 1 } },
        ]);
        for (const { visitId, ...hit } of hits) {
          if (visitId === undefined || !wanted.has(visitId)) continue;
          const list = byVisit.get(visitId) ?? [];
          list.push(hit);
          byVisit.set(visitId, list);
        }
      }
    }
    return byVisit;
  }

  /**
   * Finishes the site's run: a site rebuilt this run (its rows were stale, in another zone or row
   * shape) has its visitor counts recounted whole and is marked built; any other has the weeks
   * closed since the last run counted (its days took the batches' deltas). Returns how many
   * site-days the run touched (of hits received in the window and of the batches applied).
   */
  private async rollUpSite(
    siteId: string,
    touched: { buckets: Date[]; days: string[]; state: SiteRollupState | undefined },
    timing: { countsMs: number },
  ): Promise<number> {
    const site = await this.sites.findById(siteId);
    if (!site) {
      await this.rollups.forgetSite(siteId);
      await this.goalConversions.deleteSite(siteId);
      await this.funnelRows.deleteSite(siteId);
      return 0;
    }
    const state = touched.state ?? (await this.rollups.findSiteState(siteId));
    const rebuild = !RollupRepository.isUsable(state, site.timezone);
    const days = mergeDaySlices(
      daySlicesOf(touched.buckets, site.timezone),
      touched.days.map((day) => daySlice(day, site.timezone)),
    );
    this.throwIfStopping();
    await this.renewLease();
    // From the visitor rows the batches completed: a crash before this point is repaired by the next run.
    const countsStarted = performance.now();
    const today = formatCalendarDate(zonedDate(this.clock.now(), site.timezone));
    if (rebuild) await this.visitorCounts.rebuildSite(siteId, today);
    else await this.visitorCounts.closeWeeks(siteId, today);
    timing.countsMs += performance.now() - countsStarted;
    // `state` was read before any hit: a purge or erasure since then keeps the site flagged.
    if (rebuild) await this.rollups.markSiteBuilt(siteId, site.timezone, state.rebuildRequests);
    return days.length;
  }
}

function groupBySite(rows: HitBucket[]): Map<string, Date[]> {
  const bySite = new Map<string, Date[]>();
  for (const row of rows) {
    const siteId = row.siteId.toHexString();
    const list = bySite.get(siteId) ?? [];
    list.push(row.bucket);
    bySite.set(siteId, list);
  }
  return bySite;
}
