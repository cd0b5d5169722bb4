import { Injectable } from '@nestjs/common';
import { daysFrom, formatCalendarDate, shiftDay, zonedParts } from '../../common/time/calendar.js';
import { PAGEVIEW } from '../../hits/hit.schema.js';
import { DIMENSION_SOURCES } from '../query/dimensions.js';
import { SLICE, nextTurn } from '../../database/slices.js';
import { RollupRepository } from './rollup.repository.js';
import {
  ATTRIBUTION_COUNT_KEYS,
  VISITOR_COUNT_KEYS,
  addHitDeltas,
  addMembershipDeltas,
  addVisitorCounts,
  closedWeeksThrough,
  visitorCountRows,
  tallyDifference,
  weeksWithin,
  type CountDeltaTally,
  type CountTarget,
  type VisitorSetSample,
  type VisitorCountTally,
} from './visitor-count-keys.js';
import type { BatchHit, VisitContribution } from './batch-deltas.js';

/** The hit fields every count key reads, and the hit counts its rows sum. */
const FIELDS = [
  ...new Set(
    VISITOR_COUNT_KEYS.flatMap((key) => key.dimensions.map((dimension) => DIMENSION_SOURCES[dimension].field)),
  ),
  'pageviews',
  'events',
];

/** More weeks than this closing at once (a site idle for weeks) recount the whole site. */
const MAX_WEEKS = 2;

/**
 * Maintains stats_visitor_counts for the rollup job. Per batch (`applyBatch`), by deltas: the
 * batch's hits add their page views and hits to the rows of their values, and each visitor-day
 * the batch created (`firstBatch` on stats_visitor_days) adds the previous-active-day deltas
 * (addMembershipDeltas), read from the histories of the batch's visitors only
 * (`{ siteId, classification, visitorKey }`): the cost follows the batch, not the days it lands
 * on. Applied once per row through `lastBatch` (RollupRepository.applyCountDeltas). Week rows
 * exist for closed weeks only (`closedWeeksThrough`, recorded as the site's `weeksThrough`): a
 * batch's deltas reach the closed ones, and a week is counted from its visitors' histories when
 * it closes (`closeWeeks`). A rebuild (purge, erasure, zone or row version change) recounts
 * everything from the visitor-day rows (`rebuildSite`).
 */
@Injectable()
export class VisitorCountsBuilder {
  constructor(private readonly rollups: RollupRepository) {}

  /** Recounts every day and every week closed on `today` (the site's local date). */
  async rebuildSite(siteId: string, today: string): Promise<void> {
    const through = closedWeeksThrough(today);
    const days: VisitorCountTally = new Map();
    const weeks: VisitorCountTally = new Map();
    const targets: CountTarget[] = [
      { unit: 'day', only: 'all', tally: days },
      { unit: 'week', only: 'all', tally: weeks },
    ];
    for await (const rows of this.rollups.visitorHistories(siteId, FIELDS))
      addVisitorCounts(rows, VISITOR_COUNT_KEYS, targets);
    for await (const records of this.rollups.contributionHistories(siteId))
      addVisitorCounts(attributionSamples(records.map((record) => record.current)), ATTRIBUTION_COUNT_KEYS, targets);
    const closed = visitorCountRows(weeks).filter((count) => shiftDay(count.day, 6) <= through);
    await this.rollups.replaceVisitorCounts(siteId, 'all', [...visitorCountRows(days), ...closed]);
    await this.rollups.saveWeeksThrough(siteId, through);
  }

  /**
   * Adds batch `batch` (its hits of this site, already in the visitor-day rows) to the site's
   * counts, in `timezone`; `weeksThrough` is the site's last closed week with rows.
   */
  async applyBatch(
    siteId: string,
    batch: number,
    hits: readonly BatchHit[],
    timezone: string,
    weeksThrough: string | null,
  ): Promise<void> {
    if (hits.length === 0) return;
    const units = [
      { unit: 'day' as const, counted: () => true },
      {
        unit: 'week' as const,
        counted: (monday: string) => weeksThrough !== null && shiftDay(monday, 6) <= weeksThrough,
      },
    ];
    const tally: CountDeltaTally = new Map();
    for (const hit of hits)
      addHitDeltas(
        hit,
        hit.name === PAGEVIEW,
        formatCalendarDate(zonedParts(hit.ts, timezone)),
        VISITOR_COUNT_KEYS,
        units,
        tally,
      );
    const visitors = [...new Set(hits.map((hit) => hit.visitorKey))];
    for await (const rows of this.rollups.visitorHistories(siteId, [...FIELDS, 'firstBatch'], visitors))
      addMembershipDeltas(rows, VISITOR_COUNT_KEYS, batch, units, tally);
    await this.rollups.applyCountDeltas(siteId, batch, [...tally.values()]);
  }

  /**
   * Adds the changes batch `batch` makes to these visitors' visits (recorded on their
   * contributions: `next` with `nextBatch`) to the site's attribution counts: the tallies of each
   * visitor's attribution history before (`current`) and after the batch, subtracted
   * (tallyDifference), so a visit that moves to another source or day takes its visitor-days and
   * hits away from the old values as exactly as it adds them to the new. The records stay as
   * they are until the batch is finished, so a replay computes the same deltas; the caller must
   * not replay this once any record has been made current (RollupRepository.findAttributionCountsBatch).
   */
  async applyVisitChanges(
    siteId: string,
    batch: number,
    visitorKeys: readonly string[],
    weeksThrough: string | null,
  ): Promise<void> {
    if (visitorKeys.length === 0) return;
    const before = { day: new Map(), week: new Map() } as Record<'day' | 'week', VisitorCountTally>;
    const after = { day: new Map(), week: new Map() } as Record<'day' | 'week', VisitorCountTally>;
    const targets = (tallies: Record<'day' | 'week', VisitorCountTally>): CountTarget[] => [
      { unit: 'day', only: 'all', tally: tallies.day },
      { unit: 'week', only: 'all', tally: tallies.week },
    ];
    const [beforeTargets, afterTargets] = [targets(before), targets(after)];
    let visitors = 0;
    for await (const records of this.rollups.contributionHistories(siteId, [...visitorKeys])) {
      // Requests get a turn between slices of visitors (see slicesOf).
      if (++visitors % SLICE === 0) await nextTurn();
      const old = attributionSamples(records.map((record) => record.current));
      const now = attributionSamples(
        records.map((record) => (record.nextBatch === batch ? record.next : record.current)),
      );
      addVisitorCounts(old, ATTRIBUTION_COUNT_KEYS, beforeTargets);
      addVisitorCounts(now, ATTRIBUTION_COUNT_KEYS, afterTargets);
    }
    const counted = (unit: 'day' | 'week', label: string) =>
      unit === 'day' || (weeksThrough !== null && shiftDay(label, 6) <= weeksThrough);
    await this.rollups.applyCountDeltas(siteId, batch, [
      ...tallyDifference(before.day, after.day, counted),
      ...tallyDifference(before.week, after.week, counted),
    ]);
  }

  /** Counts the weeks closed on `today` since the last run, from their visitors' histories. */
  async closeWeeks(siteId: string, today: string): Promise<void> {
    const { weeksThrough } = await this.rollups.findSiteState(siteId);
    if (weeksThrough === null) return this.rebuildSite(siteId, today);
    const through = closedWeeksThrough(today);
    if (through <= weeksThrough) return;
    const weeks = weeksWithin(shiftDay(weeksThrough, 1), through);
    if (weeks.length > MAX_WEEKS) return this.rebuildSite(siteId, today);
    if (weeks.length > 0) {
      const counts: VisitorCountTally = new Map();
      const targets: CountTarget[] = [{ unit: 'week', only: new Set(weeks), tally: counts }];
      const weekDays = weeks.flatMap((monday) => daysFrom(monday, shiftDay(monday, 6)));
      const weekVisitors = await this.rollups.findVisitorsOfDays(siteId, weekDays);
      for await (const rows of this.rollups.visitorHistories(siteId, FIELDS, weekVisitors))
        addVisitorCounts(rows, VISITOR_COUNT_KEYS, targets);
      // A visitor's visits have hits on its days only: the week's attribution visitors are among its visitors.
      for await (const records of this.rollups.contributionHistories(siteId, weekVisitors))
        addVisitorCounts(attributionSamples(records.map((record) => record.current)), ATTRIBUTION_COUNT_KEYS, targets);
      await this.rollups.replaceVisitorCounts(siteId, { days: [], weeks }, visitorCountRows(counts));
    }
    await this.rollups.saveWeeksThrough(siteId, through);
  }
}

/**
 * A visitor's attribution history as the counts read it: one sample per visit, local day and hit
 * classification of its hits, carrying the visit's attribution values (fields as on the visit)
 * and those hits' page views and hits. A missing contribution (a visit gone, or none yet) adds nothing.
 */
export function attributionSamples(
  contributions: ReadonlyArray<VisitContribution | null | undefined>,
): VisitorSetSample[] {
  const samples: VisitorSetSample[] = [];
  for (const contribution of contributions) {
    if (!contribution?.visitorKey) continue;
    for (const { day, classification, pageviews, events } of contribution.hitDays ?? [])
      samples.push({
        ...contribution.attribution,
        visitorKey: contribution.visitorKey,
        day,
        classification,
        pageviews,
        events,
      });
  }
  return samples;
}
