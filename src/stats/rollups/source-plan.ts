import { formatCalendarDate, shiftDay, zonedDate } from '../../common/time/calendar.js';
import {
  HIT_COUNT_SETS,
  isAttributionDimension,
  HIT_DAY_SETS,
  ROLLUP_DIMENSIONS,
  VISITOR_SETS,
  narrowestSet,
  type DaySlice,
  type RollupCoverage,
} from '../pipelines/rollup.pipeline.js';
import type { VisitorCountCoverage } from '../pipelines/visitor-count.pipeline.js';
import { isFixedDimension, type Dimension, type QueryDimension } from '../query/dimensions.js';
import type { Filter, StatsQuery } from '../query/stats-query.js';
import { isGoalValueDimension, type GoalValueDimension } from './goal-value-series.js';
import { daySlice } from './rollup-days.js';
import { visitorCountKeyOf, weeksWithin } from './visitor-count-keys.js';

/**
 * What a read needs from the stored data:
 * - `visitors`: distinct visitors with page views, events and bot hits of the query's classification;
 * - `all-traffic-visitors`: the same over every classification (no classification condition);
 * - `hit-counts`: page views, events and bot hits without visitors (`classification` as for the two above);
 * - `visits`: visits, bounces, durations and page views per visit;
 * - `user-stats`: the all-time per-visitor user stats of a site.
 */
export type SourceNeed = 'visitors' | 'hit-counts' | 'visits' | 'user-stats';

/** What the rollups of one site hold when a query arrives: gathered by RollupCoverageService. */
export interface RollupFacts {
  /** The site's rows were built in the query's time zone and current row shape, with no rebuild pending. */
  usable: boolean;
  /** The last Sunday whose closed week has count rows (`weeksThrough` of the site's state), or null. */
  weeksThrough: string | null;
  /** The site's days with hits past the watermark (whatever their date). */
  unsettledHitDays: DaySlice[];
  /** The days whose visit rows those hits may have changed (`pendingVisitDays`); only needed for `visits`. */
  unsettledVisitDays?: DaySlice[];
  /**
   * The days whose attribution counts those hits may have changed: their own days and every day
   * of the visits they belong to (a hit that becomes a visit's first moves all its hits to other
   * values); only needed for queries by an attribution dimension.
   */
  unsettledAttributionDays?: DaySlice[];
  /** Now: which days are the range's newest (live traffic always has its last minute unsettled). */
  now: Date;
}

/**
 * The one group of a grouped read that answers a query filtered by `dimension is value` (one
 * value, no other filter or dimension): the caller keeps the rows with that value and drops the
 * dimension from their keys.
 */
export interface GroupSelection {
  dimension: Dimension;
  value: string;
}

/**
 * Which stored data answers a read, with what the repository needs to read it; a rollup source
 * also carries the query typed with the rollups' fixed dimensions (it names no property).
 */
export type SourcePlan =
  /** `stats_visitor_counts`: visitors and hits of one count key, nothing read grows with traffic. */
  | { source: 'visitor-counts'; query: StatsQuery; coverage: VisitorCountCoverage; select?: GroupSelection }
  /** `stats_hit_days` (daily) or `stats_hit_hours`: page views, events and bot hits of a set. */
  | { source: 'hit-counts'; query: StatsQuery; coverage: RollupCoverage & { set: string; daily: boolean } }
  /** `stats_visitor_sets` (a set) or `stats_visitor_days` (full rows): one row per visitor-day and values. */
  | { source: 'visitor-rows'; query: StatsQuery; coverage: RollupCoverage }
  /** `stats_visit_sources`: visit sums per start day, classification and value of one attribution dimension. */
  | {
      source: 'visit-sources';
      query: StatsQuery;
      coverage: { fromDay: string; toDay: string; rawDays: DaySlice[] };
      select?: GroupSelection;
    }
  /** `stats_visit_hours`: visit sums per start hour and classification. */
  | { source: 'visit-hours'; query: StatsQuery; coverage: { fromDay: string; toDay: string; rawDays: DaySlice[] } }
  /** `stats_visitor_sets` (set `visitor`) for user stats, plus the raw hits of the unsettled days. */
  | { source: 'user-stats-rows'; rawDays: DaySlice[] }
  /** The raw hits (and visits): always right, costs what the range holds. */
  | { source: 'raw' };

export type Source = SourcePlan['source'];

/**
 * Every source able to answer `need` for `query`, best (fewest rows read) first, raw last: the one
 * place deciding where a read comes from. Pure: no database, no clock but `facts.now`.
 *
 * Rollups hold only the dimensions of ROLLUP_DIMENSIONS and, in rows of their own, those of
 * ATTRIBUTION_DIMENSIONS; a query grouping or filtering by any other (exit page, a dimension added
 * later, custom properties) is read raw, as is every need this function does not know. Within that:
 * - visitor counts answer a query grouped by exactly one count key's dimensions (or none), by
 *   day/week/month or not at all, with no filter, whose unsettled days all lie in the range's last
 *   two days (or the last two up to today): those are then read raw as a tail;
 * - hit counts answer a query whose fields all fit one hit-count set (daily rows unless hourly);
 *   one that fits none but groups by a count key (the city tuple, network domain) is answered from
 *   that key's visitor counts, which carry its page views, hits and bot hits, as above;
 * - visitor rows answer any other query on rolled-up dimensions that is not hourly;
 * - visit hours answer visit sums without dimension or filter, at any interval;
 * - user stats come from the `visitor` set rows;
 * - a query grouped by one attribution dimension (source, referrer, UTM, entry page), with no
 *   filter and no hourly interval, is answered from that dimension's count rows (visitors and
 *   hits; the days unsettled for attribution, `unsettledAttributionDays`, as a raw tail) and
 *   visit-source rows (visit sums; `unsettledVisitDays` read raw); so is a query with no
 *   dimension filtered by `<attribution dimension> is <one value>`, as that value's group; any
 *   other query naming a visit-level dimension is read raw.
 */
export function sourceCandidates(
  need: SourceNeed,
  asked: StatsQuery<QueryDimension>,
  facts: RollupFacts,
): SourcePlan[] {
  const raw: SourcePlan = { source: 'raw' };
  if (!facts.usable) return [raw];
  const attributed = byAttribution(asked);
  if (attributed) return attributionCandidates(need, attributed.query, facts, attributed.select);
  const query = rolledUp(asked);
  if (!query) return [raw];
  const days = rangeDays(query);
  const inRange = (slices: DaySlice[]) =>
    slices.filter((slice) => slice.day >= days.fromDay && slice.day <= days.toDay);
  const visitorRows = (): SourcePlan[] =>
    query.interval === 'hour'
      ? []
      : [
          {
            source: 'visitor-rows',
            query,
            coverage: {
              ...days,
              rawDays: inRange(facts.unsettledHitDays),
              set: narrowestSet(query, VISITOR_SETS),
            },
          },
        ];
  switch (need) {
    case 'visitors': {
      const counts = visitorCounts(query, facts, days, inRange(facts.unsettledHitDays));
      return [...(counts ? [counts] : []), ...visitorRows(), raw];
    }
    case 'hit-counts': {
      const dailySet = query.interval === 'hour' ? undefined : narrowestSet(query, HIT_DAY_SETS);
      const set = dailySet ?? narrowestSet(query, HIT_COUNT_SETS);
      const counts: SourcePlan[] = set
        ? [
            {
              source: 'hit-counts',
              query,
              coverage: { ...days, rawDays: inRange(facts.unsettledHitDays), set, daily: dailySet !== undefined },
            },
          ]
        : [];
      // Without a hit-count set (the city tuple, network domains), a count key's rows still carry its hits.
      const visitorCountRows = set ? undefined : visitorCounts(query, facts, days, inRange(facts.unsettledHitDays));
      return [...counts, ...(visitorCountRows ? [visitorCountRows] : []), ...visitorRows(), raw];
    }
    case 'visits':
      if (query.dimensions.length > 0 || query.filters.length > 0 || facts.unsettledVisitDays === undefined)
        return [raw];
      return [{ source: 'visit-hours', query, coverage: { ...days, rawDays: inRange(facts.unsettledVisitDays) } }, raw];
    case 'user-stats':
      return [{ source: 'user-stats-rows', rawDays: facts.unsettledHitDays }, raw];
    default:
      return [raw];
  }
}

/** The source that answers `need` for `query`: the first of `sourceCandidates`. */
export function planSource(need: SourceNeed, query: StatsQuery<QueryDimension>, facts: RollupFacts): SourcePlan {
  return sourceCandidates(need, query, facts)[0];
}

/**
 * The query with its dimensions typed as fixed ones, when every dimension it groups or filters by
 * is kept in the rollups (a property never is); else undefined.
 */
function rolledUp(query: StatsQuery<QueryDimension>): StatsQuery | undefined {
  const kept = (dimension: QueryDimension): dimension is Dimension =>
    isFixedDimension(dimension) && ROLLUP_DIMENSIONS.has(dimension);
  const dimensions = query.dimensions.filter(kept);
  const filters = query.filters.filter((filter): filter is Filter => kept(filter.dimension));
  if (dimensions.length !== query.dimensions.length || filters.length !== query.filters.length) return undefined;
  return { ...query, dimensions, filters };
}

/**
 * The query grouped by one attribution dimension, typed as a fixed one, when it groups by exactly
 * that and nothing else (no filter); or, for a query with no dimension and one filter
 * `<attribution dimension> is <one value>`, the query grouped by that dimension with the group to
 * select (a visitor of several values would count once per value, so only one value is exact).
 * Else undefined.
 */
function byAttribution(query: StatsQuery<QueryDimension>): { query: StatsQuery; select?: GroupSelection } | undefined {
  const [dimension] = query.dimensions;
  if (query.dimensions.length === 1 && isAttributionDimension(dimension) && query.filters.length === 0)
    return { query: { ...query, dimensions: [dimension], filters: [] } };
  const [filter] = query.filters;
  if (
    query.dimensions.length === 0 &&
    query.filters.length === 1 &&
    isAttributionDimension(filter.dimension) &&
    filter.operator === 'is' &&
    filter.values.length === 1
  )
    return {
      query: { ...query, dimensions: [filter.dimension], filters: [] },
      select: { dimension: filter.dimension, value: filter.values[0] },
    };
  return undefined;
}

/**
 * The sources of a query grouped by one attribution dimension (`byAttribution`): its count rows
 * for visitors and hit counts, its visit-source rows for visit sums, unless hourly, then raw.
 * Unsettled days for attribution are those of the pending hits and every day of their visits:
 * as for the other keys, the count rows answer when those lie in the range's last two days, read
 * raw as a tail.
 */
function attributionCandidates(
  need: SourceNeed,
  query: StatsQuery,
  facts: RollupFacts,
  select: GroupSelection | undefined,
): SourcePlan[] {
  const raw: SourcePlan = { source: 'raw' };
  if (query.interval === 'hour') return [raw];
  const days = rangeDays(query);
  const inRange = (slices: DaySlice[]) =>
    slices.filter((slice) => slice.day >= days.fromDay && slice.day <= days.toDay);
  switch (need) {
    case 'visitors':
    case 'hit-counts': {
      if (facts.unsettledAttributionDays === undefined) return [raw];
      const counts = visitorCounts(query, facts, days, inRange(facts.unsettledAttributionDays));
      return counts ? [{ ...counts, ...(select ? { select } : {}) }, raw] : [raw];
    }
    case 'visits':
      if (facts.unsettledVisitDays === undefined) return [raw];
      return [
        {
          source: 'visit-sources',
          query,
          coverage: { ...days, rawDays: inRange(facts.unsettledVisitDays) },
          ...(select ? { select } : {}),
        },
        raw,
      ];
    default:
      return [raw];
  }
}

/** The whole local days of the query's range. */
function rangeDays(query: Pick<StatsQuery<QueryDimension>, 'start' | 'end' | 'timezone'>): {
  fromDay: string;
  toDay: string;
} {
  return {
    fromDay: formatCalendarDate(zonedDate(query.start, query.timezone)),
    toDay: formatCalendarDate(zonedDate(new Date(query.end.getTime() - 1), query.timezone)),
  };
}

/**
 * The visitor-count plan, when the counts cover the query: see `sourceCandidates`. Without an
 * interval, the closed weeks (through `weeksThrough`) lying wholly in the settled days are read
 * as week rows.
 */
function visitorCounts(
  query: StatsQuery,
  facts: RollupFacts,
  days: { fromDay: string; toDay: string },
  rawDays: DaySlice[],
): SourcePlan | undefined {
  if (query.interval === 'hour' || query.filters.length > 0) return undefined;
  const key = visitorCountKeyOf(query.dimensions);
  if (!key) return undefined;
  const tail = recentTail(query, facts, days, rawDays);
  if (tail === null) return undefined;
  const settledEnd = tail ? shiftDay(tail.day, -1) : days.toDay;
  const weeks =
    query.interval === undefined && facts.weeksThrough !== null
      ? weeksWithin(days.fromDay, settledEnd < facts.weeksThrough ? settledEnd : facts.weeksThrough)
      : [];
  return { source: 'visitor-counts', query, coverage: { key, ...days, weeks, ...(tail ? { tail } : {}) } };
}

/**
 * The raw tail of a counts-backed read: undefined when every day of the range is settled; the
 * first unsettled day through the query's end when the unsettled days all lie in the range's last
 * two days (or the last two up to today: live traffic); null when an older day is unsettled.
 */
function recentTail(
  query: StatsQuery<QueryDimension>,
  facts: RollupFacts,
  days: { fromDay: string; toDay: string },
  rawDays: DaySlice[],
): DaySlice | undefined | null {
  if (rawDays.length === 0) return undefined;
  const today = formatCalendarDate(zonedDate(facts.now, query.timezone));
  const recentEnd = days.toDay < today ? days.toDay : today;
  if (rawDays[0].day < shiftDay(recentEnd, -1)) return null;
  return { day: rawDays[0].day, start: rawDays[0].start, end: query.end };
}

/** The goals of a goal query (their ids) and whether it groups by goal. */
export interface ConversionSelection {
  goalIds: string[];
  byGoal: boolean;
}

/** Which data answers a goal query's conversions. */
export type ConversionPlan =
  /**
   * `stats_goal_counts` over `[fromDay, settledEnd]`, plus the raw hits of `tail` when given,
   * each tail visitor counted unless `stats_goal_members` has them converting in the settled days.
   */
  | { source: 'goal-counts'; fromDay: string; settledEnd: string; tail?: DaySlice }
  /**
   * `stats_goal_value_counts` of `dimension` over `[fromDay, settledEnd]`, plus the raw tail, each
   * tail visitor counted in a value unless `stats_goal_value_members` has them converting with it
   * in the settled days.
   */
  | { source: 'goal-value-counts'; dimension: GoalValueDimension; fromDay: string; settledEnd: string; tail?: DaySlice }
  | { source: 'raw' };

/**
 * Every source able to answer a goal query's conversions (unique and total conversions,
 * revenue), best first, raw last. `readyGoals` are the goals whose conversion rows are complete in
 * the query's zone (backfilled and kept since), `readyGoalValues` those whose value rows are too.
 * The conversion rows answer a query when:
 * - the site's rows are usable (same rules as `sourceCandidates`) and every goal asked has rows;
 * - it has no filter but goal names, no interval, no behavioural filter, and one classification
 *   (the rows count humans and bots apart, not both at once);
 * - it has no dimension but the goal (the goal counts), or one dimension of GOAL_VALUE_DIMENSIONS
 *   (the value counts: a breakdown of the converting hits by their own value);
 * - it groups by goal, or names one goal (without the goal dimension a hit matching two of the
 *   goals counts once, which per-goal rows cannot tell);
 * - its unsettled days lie in its last two days (read raw as a tail, as for the visitor counts).
 */
export function conversionSourceCandidates(
  query: StatsQuery<QueryDimension>,
  selection: ConversionSelection,
  facts: RollupFacts & { readyGoals: ReadonlySet<string>; readyGoalValues: ReadonlySet<string> },
): ConversionPlan[] {
  const raw: ConversionPlan = { source: 'raw' };
  if (!facts.usable || selection.goalIds.length === 0) return [raw];
  if (query.filters.length > 0 || query.interval !== undefined) return [raw];
  if (query.visitorKeys !== undefined || query.classification === 'ALL') return [raw];
  if (!selection.byGoal && selection.goalIds.length !== 1) return [raw];
  const [dimension, ...others] = query.dimensions;
  if (others.length > 0 || (dimension !== undefined && !isGoalValueDimension(dimension))) return [raw];
  const ready = dimension === undefined ? facts.readyGoals : facts.readyGoalValues;
  if (!selection.goalIds.every((id) => ready.has(id))) return [raw];
  const days = rangeDays(query);
  const rawDays = facts.unsettledHitDays.filter((slice) => slice.day >= days.fromDay && slice.day <= days.toDay);
  const tail = recentTail(query, facts, days, rawDays);
  if (tail === null) return [raw];
  const settled = {
    fromDay: days.fromDay,
    settledEnd: tail ? shiftDay(tail.day, -1) : days.toDay,
    ...(tail ? { tail } : {}),
  };
  return [
    dimension === undefined
      ? { source: 'goal-counts', ...settled }
      : { source: 'goal-value-counts', dimension, ...settled },
    raw,
  ];
}

/** Which data answers who `has_done` goals in a query's range (the visitors a behavioural filter keeps or drops). */
export type BehaviourPlan =
  /**
   * The visitors of `stats_goal_members` converting on a day of `[fromDay, settledEnd]`, with the
   * raw hits' converters of `tail` when given.
   */
  { source: 'goal-members'; fromDay: string; settledEnd: string; tail?: DaySlice } | { source: 'raw' };

/**
 * Every source able to say who converted on a goal in a query's range, best first, raw last.
 * The member rows answer when the site's rows are usable, every goal named has rows in the
 * query's zone, the range is whole local days (members are per local day), and its unsettled days
 * lie in its last two days (read raw as a tail). Any classification: `ALL` is every
 * classification's members. The query's other filters, dimensions and interval do not matter:
 * a behavioural filter looks at the range and classification only.
 */
export function behaviourSourceCandidates(
  query: StatsQuery<QueryDimension>,
  goalIds: readonly string[],
  facts: RollupFacts & { readyGoals: ReadonlySet<string> },
): BehaviourPlan[] {
  const raw: BehaviourPlan = { source: 'raw' };
  if (!facts.usable || goalIds.length === 0 || !goalIds.every((id) => facts.readyGoals.has(id))) return [raw];
  const days = rangeDays(query);
  if (
    daySlice(days.fromDay, query.timezone).start.getTime() !== query.start.getTime() ||
    daySlice(days.toDay, query.timezone).end.getTime() !== query.end.getTime()
  )
    return [raw];
  const rawDays = facts.unsettledHitDays.filter((slice) => slice.day >= days.fromDay && slice.day <= days.toDay);
  const tail = recentTail(query, facts, days, rawDays);
  if (tail === null) return [raw];
  const settledEnd = tail ? shiftDay(tail.day, -1) : days.toDay;
  return [{ source: 'goal-members', fromDay: days.fromDay, settledEnd, ...(tail ? { tail } : {}) }, raw];
}

/** Which data answers a saved funnel's figures. */
export type FunnelPlan =
  /**
   * `stats_funnel_counts` over `[fromDay, settledEnd]`, corrected for the visits crossing the
   * range's first midnight, the tail's or the range's last one, and the visits with step hits in
   * `tail` (the raw hits of the unsettled last days, when given): those are walked raw over their
   * hits in the range.
   */
  { source: 'funnel-rows'; fromDay: string; toDay: string; settledEnd: string; tail?: DaySlice } | { source: 'raw' };

/**
 * Every source able to answer a saved funnel's figures, best first, raw last. The funnel rows
 * answer when:
 * - the site's rows are usable (same rules as `sourceCandidates`) and the funnel's rows are
 *   complete in the query's zone for its current steps (`funnelReady`);
 * - the query has no filter (a segment is filters), no dimension, interval or behavioural
 *   filter, and one classification (humans and bots are kept apart, not both at once): a filter
 *   removes hits from visits, which changes how deep they go;
 * - the range is whole local days (the rows are per local day of the visit's start);
 * - its unsettled days lie in its last two days (read raw as a tail, as for the visitor counts):
 *   a hit not yet taken in may change any visit of its day.
 */
export function funnelSourceCandidates(
  query: StatsQuery<QueryDimension>,
  facts: RollupFacts & { funnelReady: boolean },
): FunnelPlan[] {
  const raw: FunnelPlan = { source: 'raw' };
  if (!facts.usable || !facts.funnelReady) return [raw];
  if (query.dimensions.length > 0 || query.filters.length > 0 || query.interval !== undefined) return [raw];
  if (query.visitorKeys !== undefined || query.classification === 'ALL') return [raw];
  const days = rangeDays(query);
  if (
    daySlice(days.fromDay, query.timezone).start.getTime() !== query.start.getTime() ||
    daySlice(days.toDay, query.timezone).end.getTime() !== query.end.getTime()
  )
    return [raw];
  const rawDays = facts.unsettledHitDays.filter((slice) => slice.day >= days.fromDay && slice.day <= days.toDay);
  const tail = recentTail(query, facts, days, rawDays);
  if (tail === null) return [raw];
  const settledEnd = tail ? shiftDay(tail.day, -1) : days.toDay;
  return [{ source: 'funnel-rows', ...days, settledEnd, ...(tail ? { tail } : {}) }, raw];
}
