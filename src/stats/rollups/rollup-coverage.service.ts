import { Inject, Injectable } from '@nestjs/common';
import { formatCalendarDate, shiftDay, zonedDate } from '../../common/time/calendar.js';
import { Clock } from '../../common/time/clock.js';
import type { Types } from 'mongoose';
import { trackingConfig, type TrackingConfig } from '../../config/configuration.js';
import {
  ROLLUP_DIMENSIONS,
  isRollupEligible,
  HIT_COUNT_SETS,
  HIT_DAY_SETS,
  VISITOR_SETS,
  narrowestSet,
  type DaySlice,
  type RollupCoverage,
} from '../pipelines/rollup.pipeline.js';
import { isVisitRollupEligible } from '../pipelines/visit-rollup.pipeline.js';
import type { VisitorCountCoverage } from '../pipelines/visitor-count.pipeline.js';
import { eligibleVisitorCountKey, weeksWithin } from './visitor-count-keys.js';
import type { StatsQuery } from '../query/stats-query.js';
import { StatsRepository, type HitCountCoverage } from '../stats.repository.js';
import { pendingVisitDays } from './pending-visit-days.js';
import { daySlicesOf } from './rollup-days.js';
import { RollupRepository } from './rollup.repository.js';

/** The whole days of a query's range and which of them must still be read raw. */
export interface VisitRollupCoverage {
  fromDay: string;
  toDay: string;
  rawDays: DaySlice[];
}

/**
 * Decides whether a query can be answered from the rollups, and which of its days must still come
 * from raw data: for hit metrics, days with hits received after the watermark; for visit metrics,
 * the days those hits' visits may have changed on. A site whose rows were built in another time
 * zone or row version, or that awaits a rebuild, is read raw entirely.
 */
@Injectable()
export class RollupCoverageService {
  private readonly idleMs: number;

  constructor(
    private readonly rollups: RollupRepository,
    private readonly stats: StatsRepository,
    private readonly clock: Clock,
    @Inject(trackingConfig.KEY) tracking: TrackingConfig,
  ) {
    this.idleMs = tracking.sessionIdleMinutes * 60_000;
  }

  async find(query: StatsQuery): Promise<RollupCoverage | undefined> {
    if (!isRollupEligible(query)) return undefined;
    const unsettled = await this.unsettledDays(query.siteId, query.timezone);
    if (!unsettled) return undefined;
    return { ...this.daysOf(query, unsettled), set: narrowestSet(query, VISITOR_SETS) };
  }

  /**
   * For hit counts without visitors (page views, events, bot share): the rows of the narrowest
   * set holding the query's fields — daily rows unless the interval is hours, else hourly ones.
   */
  async findCounts(query: StatsQuery): Promise<HitCountCoverage | undefined> {
    const rolledUp = [...query.dimensions, ...query.filters.map((filter) => filter.dimension)].every((dimension) =>
      ROLLUP_DIMENSIONS.has(dimension),
    );
    const dailySet = query.interval === 'hour' ? undefined : narrowestSet(query, HIT_DAY_SETS);
    const set = dailySet ?? narrowestSet(query, HIT_COUNT_SETS);
    if (!rolledUp || !set) return undefined;
    const unsettled = await this.unsettledDays(query.siteId, query.timezone);
    if (!unsettled) return undefined;
    return { ...this.daysOf(query, unsettled), set, daily: dailySet !== undefined };
  }

  /**
   * For distinct visitors from stats_visitor_counts: a query grouped by one count key's dimensions
   * (or nothing), by day/week/month or not at all, filtered by nothing but classification, whose
   * unsettled days (if any) all lie in the last two days of the range, or of the range up to
   * today (live traffic always has the last minute unsettled; just after midnight, yesterday
   * too). Those days are read raw from the first of them on; anything else is left to the other
   * paths, whose cost an old unsettled day would not change. Without an interval, the weeks lying
   * wholly in the settled days and closed (through the site's `weeksThrough`) are read as week rows.
   */
  async findVisitorCounts(query: StatsQuery): Promise<VisitorCountCoverage | undefined> {
    const key = eligibleVisitorCountKey(query);
    if (!key) return undefined;
    const rows = await this.usableRows(query.siteId, query.timezone);
    if (!rows) return undefined;
    const { fromDay, toDay, rawDays } = this.daysOf(query, rows.unsettled);
    let tail: DaySlice | undefined;
    if (rawDays.length > 0) {
      const today = formatCalendarDate(zonedDate(this.clock.now(), query.timezone));
      const recentEnd = toDay < today ? toDay : today;
      if (rawDays[0].day < shiftDay(recentEnd, -1)) return undefined;
      tail = { day: rawDays[0].day, start: rawDays[0].start, end: query.end };
    }
    const settledEnd = tail ? shiftDay(tail.day, -1) : toDay;
    const weeks =
      query.interval === undefined && rows.weeksThrough !== null
        ? weeksWithin(fromDay, settledEnd < rows.weeksThrough ? settledEnd : rows.weeksThrough)
        : [];
    return { key, fromDay, toDay, weeks, ...(tail ? { tail } : {}) };
  }

  /** For visit metrics; the caller has had the site's hits sessionized (reads flush first). */
  async findVisits(query: StatsQuery): Promise<VisitRollupCoverage | undefined> {
    if (!isVisitRollupEligible(query)) return undefined;
    const state = await this.rollups.findSiteState(query.siteId.toHexString());
    if (!RollupRepository.isUsable(state, query.timezone)) return undefined;
    const watermark = await this.rollups.findWatermark();
    const unsettled = await pendingVisitDays(
      this.stats,
      { siteId: query.siteId, after: watermark },
      this.idleMs,
      query.timezone,
    );
    return this.daysOf(query, unsettled);
  }

  /**
   * The site's days (in `timezone`) that still have hits past the watermark, whatever their
   * date; undefined when the site's rows cannot be used at all.
   */
  async unsettledDays(siteId: Types.ObjectId, timezone: string): Promise<DaySlice[] | undefined> {
    return (await this.usableRows(siteId, timezone))?.unsettled;
  }

  /** The unsettled days and the site's `weeksThrough` (see RollupState), when its rows can be used. */
  private async usableRows(
    siteId: Types.ObjectId,
    timezone: string,
  ): Promise<{ unsettled: DaySlice[]; weeksThrough: string | null } | undefined> {
    const state = await this.rollups.findSiteState(siteId.toHexString());
    if (!RollupRepository.isUsable(state, timezone)) return undefined;
    const watermark = await this.rollups.findWatermark();
    const pending = await this.stats.findPendingBuckets({ after: watermark, siteId });
    const unsettled = daySlicesOf(
      pending.map((row) => row.bucket),
      timezone,
    );
    return { unsettled, weeksThrough: state.weeksThrough };
  }

  private daysOf(query: StatsQuery, unsettled: DaySlice[]): VisitRollupCoverage {
    const fromDay = formatCalendarDate(zonedDate(query.start, query.timezone));
    const toDay = formatCalendarDate(zonedDate(new Date(query.end.getTime() - 1), query.timezone));
    return { fromDay, toDay, rawDays: unsettled.filter((slice) => slice.day >= fromDay && slice.day <= toDay) };
  }
}
