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
import { daySlicesOf, mergeDaySlices } from './rollup-days.js';
import { RollupRepository } from './rollup.repository.js';
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

/** A run stopped between two steps because the app is shutting down; the next run redoes it. */
class RollupStopped extends Error {
  override readonly name = 'RollupStopped';
}

export interface RollupRunResult {
  ran: boolean;
  siteDays: number;
}

/**
 * The incremental rollup job. Each run, on whichever instance holds the lease: find the site-days
 * touched by hits received after the watermark (up to now − ROLLUP_SETTLE_MS), have those sites'
 * hits sessionized, add the days whose visits those hits may have changed (see
 * `pendingVisitDays`), recompute each of those days — visitor rows from raw hits, visitor sets
 * from those rows, visit hours from the visits — then the visitor counts of those days and of the
 * days whose previous-active-day they change and of the closed weeks (VisitorCountsBuilder), in
 * the site's current time zone, rebuild sites
 * flagged for it or whose zone or row version changed, then advance the watermark. Recomputing
 * whole days makes it idempotent, so a run cut short by a crash is simply done again by the next
 * lease holder. On shutdown a run stops before its next day (the watermark stays where it was).
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
      const pending = await this.stats.findPendingBuckets({ after: watermark, until });
      const bySite = groupBySite(pending);
      for (const siteId of await this.rollups.findSitesToRebuild()) if (!bySite.has(siteId)) bySite.set(siteId, []);
      // A site whose zone changed is read raw until rebuilt: rebuild it now, not when its next hit comes.
      const builtZones = await this.rollups.findBuiltZones();
      for (const site of await this.sites.listAll()) {
        const builtIn = builtZones.get(site.id);
        if (builtIn !== undefined && builtIn !== site.timezone && !bySite.has(site.id)) bySite.set(site.id, []);
      }
      let siteDays = 0;
      const started = performance.now();
      const timing = { countsMs: 0 };
      for (const [siteId, buckets] of bySite) {
        this.throwIfStopping();
        siteDays += await this.rollUpSite(siteId, buckets, { after: watermark, until }, timing);
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

  /**
   * Recomputes the site's touched days, or all of them when its rows are stale, in another zone
   * or in an older row shape.
   */
  private async rollUpSite(
    siteId: string,
    buckets: Date[],
    window: { after: Date; until: Date },
    timing: { countsMs: number },
  ): Promise<number> {
    const site = await this.sites.findById(siteId);
    if (!site) {
      await this.rollups.forgetSite(siteId);
      return 0;
    }
    const objectId = new Types.ObjectId(siteId);
    const state = await this.rollups.findSiteState(siteId);
    const rebuild = !RollupRepository.isUsable(state, site.timezone);
    // Visit rows are computed from visits: they must include every hit up to the watermark first.
    await this.sessions.flush(siteId);
    let slices: DaySlice[];
    if (rebuild) {
      await this.rollups.deleteSiteRows(siteId);
      // A visit starts at one of its hits, so the days holding hits are all the visit rows need.
      slices = daySlicesOf(
        (await this.stats.findSiteBuckets(objectId)).map((row) => row.bucket),
        site.timezone,
      );
    } else {
      slices = mergeDaySlices(
        daySlicesOf(buckets, site.timezone),
        await pendingVisitDays(this.stats, { siteId: objectId, ...window }, this.idleMs, site.timezone),
      );
    }
    for (const slice of slices) {
      this.throwIfStopping();
      // Renewing before each day keeps a long rebuild from outliving the lease and racing a second holder.
      if (!(await this.leases.acquire(ROLLUP_LEASE, this.holder, ROLLUP_LEASE_MS)))
        throw new Error('Lost the rollup lease');
      await this.rollups.deleteDay(siteId, slice.day);
      await this.stats.rollUpDay(objectId, slice, site.timezone);
    }
    this.throwIfStopping();
    if (!(await this.leases.acquire(ROLLUP_LEASE, this.holder, ROLLUP_LEASE_MS)))
      throw new Error('Lost the rollup lease');
    // From the visitor sets just rebuilt: a crash before this point is repaired by the next run.
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
