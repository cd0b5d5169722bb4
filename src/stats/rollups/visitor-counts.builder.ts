import { Injectable } from '@nestjs/common';
import { DIMENSION_SOURCES } from '../query/dimensions.js';
import { RollupRepository } from './rollup.repository.js';
import {
  VISITOR_COUNT_KEYS,
  addVisitorCounts,
  forwardDays,
  visitorCountRows,
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

/**
 * Maintains stats_visitor_counts for the rollup job, after it has rebuilt the visitor-day rows
 * (stats_visitor_days) of the days it recomputes. Every count written is a pure recomputation from
 * those rows, so a
 * run cut short is repaired by doing it again. Recomputing days `D` changes the counts of `D`
 * and of each of their visitors' next active day after a day in `D` (its `prev` may change):
 * those days are found from the visitors' histories (`{ siteId, classification, visitorKey }`) and
 * recounted from all their visitors' histories. Live traffic (today only) has no next day.
 * Hits only ever get deleted by a purge or erasure, which flags the site for a whole rebuild.
 */
@Injectable()
export class VisitorCountsBuilder {
  constructor(private readonly rollups: RollupRepository) {}

  async rebuildSite(siteId: string): Promise<void> {
    const counts: VisitorCountTally = new Map();
    for await (const rows of this.rollups.visitorHistories(siteId, FIELDS))
      addVisitorCounts(rows, VISITOR_COUNT_KEYS, 'all', counts);
    await this.rollups.replaceVisitorCounts(siteId, 'all', visitorCountRows(counts));
  }

  /** Recounts the recomputed `days` and the days whose `prev` they may have changed. */
  async recomputeDays(siteId: string, days: string[]): Promise<void> {
    if (days.length === 0) return;
    if (days.length >= WHOLE_SITE_DAYS) return this.rebuildSite(siteId);
    const changed = new Set(days);
    const visitors = await this.rollups.findVisitorsOfDays(siteId, days);
    const counts: VisitorCountTally = new Map();
    const forward = new Set<string>();
    for await (const rows of this.rollups.visitorHistories(siteId, FIELDS, visitors)) {
      addVisitorCounts(rows, VISITOR_COUNT_KEYS, changed, counts);
      forwardDays(rows, VISITOR_COUNT_KEYS, changed, forward);
    }
    // A late hit on an old day moves `prev` on many later days: one read of the site is then cheaper.
    if (changed.size + forward.size >= WHOLE_SITE_DAYS) return this.rebuildSite(siteId);
    if (forward.size > 0) {
      // Every visitor of those days counts there, not only the ones whose `prev` changed.
      const forwardVisitors = await this.rollups.findVisitorsOfDays(siteId, [...forward]);
      for await (const rows of this.rollups.visitorHistories(siteId, FIELDS, forwardVisitors))
        addVisitorCounts(rows, VISITOR_COUNT_KEYS, forward, counts);
    }
    await this.rollups.replaceVisitorCounts(siteId, [...changed, ...forward], visitorCountRows(counts));
  }
}
