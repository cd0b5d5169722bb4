import { Inject, Injectable } from '@nestjs/common';
import { formatCalendarDate, zonedDate } from '../../common/time/calendar.js';
import type { Types } from 'mongoose';
import { trackingConfig, type TrackingConfig } from '../../config/configuration.js';
import {
  ROLLUP_DIMENSIONS,
  isRollupEligible,
  HIT_COUNT_SETS,
  VISITOR_SETS,
  narrowestSet,
  type DaySlice,
  type RollupCoverage,
} from '../pipelines/rollup.pipeline.js';
import { isVisitRollupEligible } from '../pipelines/visit-rollup.pipeline.js';
import type { StatsQuery } from '../query/stats-query.js';
import { StatsRepository } from '../stats.repository.js';
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
   * For hit counts without visitors (page views, events, bot share): the hit-hour rows of the
   * narrowest set holding the query's fields, at any interval including hours.
   */
  async findCounts(query: StatsQuery): Promise<(RollupCoverage & { set: string }) | undefined> {
    const rolledUp = [...query.dimensions, ...query.filters.map((filter) => filter.dimension)].every((dimension) =>
      ROLLUP_DIMENSIONS.has(dimension),
    );
    const set = narrowestSet(query, HIT_COUNT_SETS);
    if (!rolledUp || !set) return undefined;
    const unsettled = await this.unsettledDays(query.siteId, query.timezone);
    if (!unsettled) return undefined;
    return { ...this.daysOf(query, unsettled), set };
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
    const state = await this.rollups.findSiteState(siteId.toHexString());
    if (!RollupRepository.isUsable(state, timezone)) return undefined;
    const watermark = await this.rollups.findWatermark();
    const pending = await this.stats.findPendingBuckets({ after: watermark, siteId });
    return daySlicesOf(
      pending.map((row) => row.bucket),
      timezone,
    );
  }

  private daysOf(query: StatsQuery, unsettled: DaySlice[]): VisitRollupCoverage {
    const fromDay = formatCalendarDate(zonedDate(query.start, query.timezone));
    const toDay = formatCalendarDate(zonedDate(new Date(query.end.getTime() - 1), query.timezone));
    return { fromDay, toDay, rawDays: unsettled.filter((slice) => slice.day >= fromDay && slice.day <= toDay) };
  }
}
