import { Injectable } from '@nestjs/common';
import { formatCalendarDate, zonedDate } from '../../common/time/calendar.js';
import type { Types } from 'mongoose';
import { isRollupEligible, type DaySlice, type RollupCoverage } from '../pipelines/rollup.pipeline.js';
import type { StatsQuery } from '../query/stats-query.js';
import { StatsRepository } from '../stats.repository.js';
import { daySlicesOf } from './rollup-days.js';
import { RollupRepository } from './rollup.repository.js';

/**
 * Decides whether a hit-metrics query can be answered from the visitor-day rollup, and which of
 * its days must still come from raw hits: those with hits received after the watermark. A site
 * whose rows were built in another time zone, or that awaits a rebuild, is read raw entirely.
 */
@Injectable()
export class RollupCoverageService {
  constructor(
    private readonly rollups: RollupRepository,
    private readonly stats: StatsRepository,
  ) {}

  async find(query: StatsQuery): Promise<RollupCoverage | undefined> {
    if (!isRollupEligible(query)) return undefined;
    const unsettled = await this.unsettledDays(query.siteId, query.timezone);
    if (!unsettled) return undefined;
    const fromDay = formatCalendarDate(zonedDate(query.start, query.timezone));
    const toDay = formatCalendarDate(zonedDate(new Date(query.end.getTime() - 1), query.timezone));
    return { fromDay, toDay, rawDays: unsettled.filter((slice) => slice.day >= fromDay && slice.day <= toDay) };
  }

  /**
   * The site's days (in `timezone`) that still have hits past the watermark, whatever their
   * date; undefined when the site's rows cannot be used at all.
   */
  async unsettledDays(siteId: Types.ObjectId, timezone: string): Promise<DaySlice[] | undefined> {
    const state = await this.rollups.findSiteState(siteId.toHexString());
    if (state.rebuild || state.timezone !== timezone) return undefined;
    const watermark = await this.rollups.findWatermark();
    const pending = await this.stats.findPendingBuckets({ after: watermark, siteId });
    return daySlicesOf(
      pending.map((row) => row.bucket),
      timezone,
    );
  }
}
