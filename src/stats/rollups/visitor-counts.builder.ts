import { Injectable } from '@nestjs/common';
import { daysFrom, shiftDay } from '../../common/time/calendar.js';
import { DIMENSION_SOURCES } from '../query/dimensions.js';
import { RollupRepository } from './rollup.repository.js';
import {
  VISITOR_COUNT_KEYS,
  addVisitorCounts,
  closedWeeksThrough,
  forwardDays,
  unitLabel,
  visitorCountRows,
  weeksWithin,
  type VisitorCountTally,
} from './visitor-count-keys.js';

/**
 * Recounting this many days or more at once (a backfill, or a late hit whose visitors return on
 * many later days) recounts the whole site in one read of its visitor-day rows rather than looking up
 * each visitor's history: the days' visitors are then most of the site's anyway.
 */
export const WHOLE_SITE_DAYS = 7;

/** The hit fields every count key reads, and the hit counts its rows sum. */
const FIELDS = [
  ...new Set(
    VISITOR_COUNT_KEYS.flatMap((key) => key.dimensions.map((dimension) => DIMENSION_SOURCES[dimension].field)),
  ),
  'pageviews',
  'events',
];

/** More weeks than this to recount at once (a site idle for weeks, a late hit reaching far) recount the whole site. */
const MAX_WEEKS = 2;

/**
 * Maintains stats_visitor_counts for the rollup job, after it has rebuilt the visitor-day rows
 * (stats_visitor_days) of the days it recomputes. Every count written is a pure recomputation from
 * those rows, so a run cut short is repaired by doing it again. Recomputing days `D` changes the
 * day counts of `D` and of each of their visitors' next active day after a day in `D` (its `prev`
 * may change): those days are found from the visitors' histories (`{ siteId, classification,
 * visitorKey }`) and recounted from all their visitors' histories. Week counts exist for closed
 * weeks only (`closedWeeksThrough`, recorded as the site's `weeksThrough`): a closed week holding
 * any of those days is recounted from all its visitors' histories, and weeks closed since the last
 * run are counted. Live traffic (today only) has no next day and no closed week. Hits only ever
 * get deleted by a purge or erasure, which flags the site for a whole rebuild.
 */
@Injectable()
export class VisitorCountsBuilder {
  constructor(private readonly rollups: RollupRepository) {}

  /** Recounts every day and every week closed on `today` (the site's local date). */
  async rebuildSite(siteId: string, today: string): Promise<void> {
    const through = closedWeeksThrough(today);
    const days: VisitorCountTally = new Map();
    const weeks: VisitorCountTally = new Map();
    for await (const rows of this.rollups.visitorHistories(siteId, FIELDS)) {
      addVisitorCounts(rows, VISITOR_COUNT_KEYS, 'day', 'all', days);
      addVisitorCounts(rows, VISITOR_COUNT_KEYS, 'week', 'all', weeks);
    }
    const closed = visitorCountRows(weeks).filter((count) => shiftDay(count.day, 6) <= through);
    await this.rollups.replaceVisitorCounts(siteId, 'all', [...visitorCountRows(days), ...closed]);
    await this.rollups.saveWeeksThrough(siteId, through);
  }

  /**
   * Recounts the recomputed `days`, the days whose `prev` they may have changed, the closed weeks
   * holding any of those, and the weeks closed on `today` since the last run.
   */
  async recomputeDays(siteId: string, days: string[], today: string): Promise<void> {
    if (days.length === 0) return;
    const { weeksThrough } = await this.rollups.findSiteState(siteId);
    if (days.length >= WHOLE_SITE_DAYS || weeksThrough === null) return this.rebuildSite(siteId, today);
    const changed = new Set(days);
    const visitors = await this.rollups.findVisitorsOfDays(siteId, days);
    const counts: VisitorCountTally = new Map();
    const forward = new Set<string>();
    for await (const rows of this.rollups.visitorHistories(siteId, FIELDS, visitors)) {
      addVisitorCounts(rows, VISITOR_COUNT_KEYS, 'day', changed, counts);
      forwardDays(rows, VISITOR_COUNT_KEYS, changed, forward);
    }
    // A late hit on an old day moves `prev` on many later days: one read of the site is then cheaper.
    if (changed.size + forward.size >= WHOLE_SITE_DAYS) return this.rebuildSite(siteId, today);
    const through = closedWeeksThrough(today);
    const weeks = new Set<string>();
    for (const day of [...changed, ...forward]) {
      const monday = unitLabel('week', day);
      if (shiftDay(monday, 6) <= weeksThrough) weeks.add(monday);
    }
    for (const monday of weeksWithin(shiftDay(weeksThrough, 1), through)) weeks.add(monday);
    if (weeks.size > MAX_WEEKS) return this.rebuildSite(siteId, today);
    if (forward.size > 0) {
      // Every visitor of those days counts there, not only the ones whose `prev` changed.
      const forwardVisitors = await this.rollups.findVisitorsOfDays(siteId, [...forward]);
      for await (const rows of this.rollups.visitorHistories(siteId, FIELDS, forwardVisitors))
        addVisitorCounts(rows, VISITOR_COUNT_KEYS, 'day', forward, counts);
    }
    if (weeks.size > 0) {
      const weekDays = [...weeks].flatMap((monday) => daysFrom(monday, shiftDay(monday, 6)));
      const weekVisitors = await this.rollups.findVisitorsOfDays(siteId, weekDays);
      for await (const rows of this.rollups.visitorHistories(siteId, FIELDS, weekVisitors))
        addVisitorCounts(rows, VISITOR_COUNT_KEYS, 'week', weeks, counts);
    }
    await this.rollups.replaceVisitorCounts(
      siteId,
      { days: [...changed, ...forward], weeks: [...weeks] },
      visitorCountRows(counts),
    );
    if (through > weeksThrough) await this.rollups.saveWeeksThrough(siteId, through);
  }
}
