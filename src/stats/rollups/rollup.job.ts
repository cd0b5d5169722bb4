import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { Types } from 'mongoose';
import { randomUUID } from 'node:crypto';
import { ShutdownDeadline } from '../../common/lifecycle/shutdown-deadline.js';
import { formatCalendarDate, zonedDate } from '../../common/time/calendar.js';
import { Clock } from '../../common/time/clock.js';
import { trackingConfig, type TrackingConfig } from '../../config/configuration.js';
import { LeaseService } from '../../database/leases/lease.service.js';
import { SessionsService } from '../../sessions/sessions.service.js';
import { SitesService } from '../../sites/sites.service.js';
import { StatsRepository, type HitBucket } from '../stats.repository.js';
import { pendingVisitDays } from './pending-visit-days.js';
import type { DaySlice } from '../pipelines/rollup.pipeline.js';
import { daySlice, daySlicesOf, mergeDaySlices } from './rollup-days.js';
import { HitsRepository } from '../../ingestion/hits.repository.js';
import { BATCH_FIELDS, batchDeltas, type BatchHit } from './batch-deltas.js';
import { RollupRepository, type SiteRollupState } from './rollup.repository.js';
import { VisitorCountsBuilder } from './visitor-counts.builder.js';

/** How often each instance tries to take the lease and roll up. */
export const ROLLUP_INTERVAL_MS = 30_000;
/** A holder that crashes mid-run blocks the job for at most this long. */
export const ROLLUP_LEASE_MS = 5 * 60_000;
export const ROLLUP_LEASE = 'stats-rollup';
/**
 * Hits received in the last minute are left for the next run: a hit stamped `receivedAt` just
 * before a run but committed after it would otherwise be skipped for good, and the reverse-DNS
 * network domain is filled in shortly after the write. Reads cover these days from raw hits.
 */
export const ROLLUP_SETTLE_MS = 60_000;
/** Hits per rollup batch: the batch's deltas are held in memory before they are applied. */
export const ROLLUP_BATCH_HITS = 20_000;

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
 * then claim the hits awaiting the rollups in numbered batches (`rollupPending`, received up to
 * now − ROLLUP_SETTLE_MS) and add each batch to the visitor rows, visitor sets and hit counts
 * (`batchDeltas`, applied once per row through `lastBatch`). Then, per touched site, have its hits
 * sessionized, recompute the visit hours of the days the new hits and the visits they changed
 * fall on (see `pendingVisitDays`), and the visitor counts of those days (VisitorCountsBuilder);
 * then advance the watermark, which reads use to tell settled days from days read raw. On
 * shutdown a run stops before its next step; the next run resumes it.
 */
@Injectable()
export class RollupJob implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RollupJob.name);
  private readonly holder = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RollupRunResult> | undefined;
  private readonly idleMs: number;
  private stopping = false;

  constructor(
    private readonly rollups: RollupRepository,
    private readonly leases: LeaseService,
    private readonly stats: StatsRepository,
    private readonly sites: SitesService,
    private readonly sessions: SessionsService,
    private readonly hits: HitsRepository,
    private readonly visitorCounts: VisitorCountsBuilder,
    private readonly clock: Clock,
    @Inject(trackingConfig.KEY) tracking: TrackingConfig,
    private readonly shutdown: ShutdownDeadline,
  ) {
    this.idleMs = tracking.sessionIdleMinutes * 60_000;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.runOnce().catch((error: unknown) => {
        if (this.stopping) this.logger.log('Rollup run stopped for shutdown; the next start redoes it');
        else
          this.logger.warn(`Rollup run failed, will retry: ${error instanceof Error ? error.message : String(error)}`);
      });
    }, ROLLUP_INTERVAL_MS);
    this.timer.unref();
  }

  /** No more runs from the timer; `runOnce` still runs (tests that drive the job themselves). */
  stopSchedule(): void {
    clearInterval(this.timer);
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
      await this.applyBatch(await this.rollups.findLastBatch(), zones, batchDays);
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
        // Rebuilt from scratch by the same additions: no rows, and every hit of the site awaiting them.
        await this.rollups.deleteSiteRows(siteId);
        await this.hits.markSiteForRollup(new Types.ObjectId(siteId));
      }
      for (;;) {
        this.throwIfStopping();
        await this.renewLease();
        const batch = await this.rollups.nextBatch();
        const claimed = await this.hits.claimForRollup(batch, until, ROLLUP_BATCH_HITS);
        await this.applyBatch(batch, zones, batchDays);
        if (claimed < ROLLUP_BATCH_HITS) break;
      }
      for (const siteId of batchDays.keys()) if (!bySite.has(siteId)) bySite.set(siteId, []);
      let siteDays = 0;
      const timing = { countsMs: 0 };
      for (const [siteId, buckets] of bySite) {
        this.throwIfStopping();
        siteDays += await this.rollUpSite(
          siteId,
          { buckets, days: [...(batchDays.get(siteId) ?? [])], state: states.get(siteId) },
          { after: watermark, until },
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
   * Adds the hits claimed by `batch` to the visitor rows, visitor sets and hit counts, then
   * releases them; records per site the local days they fall on. Applying a batch twice adds it
   * once (RollupRepository.applyRowDeltas), so this also finishes a batch a dead run left.
   */
  private async applyBatch(
    batch: number,
    zones: ReadonlyMap<string, string>,
    days: Map<string, Set<string>>,
  ): Promise<void> {
    if (batch === 0) return;
    const hits = (await this.hits.findRollupBatch(batch, BATCH_FIELDS)) as BatchHit[];
    if (hits.length === 0) return;
    const deltas = batchDeltas(hits, zones);
    for (const collection of ['visitorDays', 'visitorSets', 'hitHours', 'hitDays'] as const)
      await this.rollups.applyRowDeltas(collection, batch, deltas[collection]);
    await this.hits.releaseRollupBatch(batch);
    for (const [siteId, siteDays] of deltas.days) {
      const known = days.get(siteId) ?? new Set<string>();
      for (const day of siteDays) known.add(day);
      days.set(siteId, known);
    }
  }

  /**
   * Recomputes the visit-hour rows and the visitor counts of the site's touched days (those of
   * hits received in the window, of the batches applied, and of the visits they changed), or of
   * all its days when it was rebuilt (its rows were stale, in another zone or row shape).
   */
  private async rollUpSite(
    siteId: string,
    touched: { buckets: Date[]; days: string[]; state: SiteRollupState | undefined },
    window: { after: Date; until: Date },
    timing: { countsMs: number },
  ): Promise<number> {
    const site = await this.sites.findById(siteId);
    if (!site) {
      await this.rollups.forgetSite(siteId);
      return 0;
    }
    const objectId = new Types.ObjectId(siteId);
    const state = touched.state ?? (await this.rollups.findSiteState(siteId));
    const rebuild = !RollupRepository.isUsable(state, site.timezone);
    // Visit rows are computed from visits: they must include every hit up to the watermark first.
    await this.sessions.flush(siteId);
    let slices: DaySlice[];
    if (rebuild) {
      // A visit starts at one of its hits, so the days holding hits are all the visit rows need.
      slices = daySlicesOf(
        (await this.stats.findSiteBuckets(objectId)).map((row) => row.bucket),
        site.timezone,
      );
    } else {
      slices = mergeDaySlices(
        daySlicesOf(touched.buckets, site.timezone),
        touched.days.map((day) => daySlice(day, site.timezone)),
        await pendingVisitDays(this.stats, { siteId: objectId, ...window }, this.idleMs, site.timezone),
      );
    }
    for (const slice of slices) {
      this.throwIfStopping();
      await this.renewLease();
      await this.rollups.deleteVisitHoursOfDay(siteId, slice.day);
      await this.stats.rollUpVisitHours(objectId, slice, site.timezone);
    }
    this.throwIfStopping();
    await this.renewLease();
    // From the visitor rows the batches completed: a crash before this point is repaired by the next run.
    const countsStarted = performance.now();
    const today = formatCalendarDate(zonedDate(this.clock.now(), site.timezone));
    if (rebuild) await this.visitorCounts.rebuildSite(siteId, today);
    else
      await this.visitorCounts.recomputeDays(
        siteId,
        slices.map((slice) => slice.day),
        today,
      );
    timing.countsMs += performance.now() - countsStarted;
    // `state` was read before any hit: a purge or erasure since then keeps the site flagged.
    if (rebuild) await this.rollups.markSiteBuilt(siteId, site.timezone, state.rebuildRequests);
    return slices.length;
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
