import type { PipelineStage, Types } from 'mongoose';
import { DIMENSION_SOURCES, type Dimension } from '../query/dimensions.js';
import type { Interval, StatsQuery } from '../query/stats-query.js';
import {
  IS_BOT_HIT,
  IS_PAGEVIEW,
  bucketExpression,
  dimensionKeys,
  filterCondition,
  groupId,
  hitFieldPath,
  lookupVisit,
  matchListedDays,
  settledDays,
} from './stages.js';
import { IS_IDENTIFIED, userStatsTotals } from './user-stats.pipeline.js';
import { storedVisitorRowFields, visitorRowCondition, visitorRowPath } from '../rollups/visitor-row-names.js';

export const VISITOR_DAYS_COLLECTION = 'stats_visitor_days';
export const VISITOR_SETS_COLLECTION = 'stats_visitor_sets';

/**
 * Dimensions kept in the visitor-day rollup and the hit counts. Only hit-level dimensions: a
 * visit-level one (source, referrer, UTM, entry page) holds the value of the hit's visit, which a
 * late hit can change after the hit was rolled up (docs/metrics.md); those have rows of their own
 * (ATTRIBUTION_DIMENSIONS). Queries on anything else read raw hits.
 */
export const ROLLUP_DIMENSIONS: ReadonlySet<Dimension> = new Set<Dimension>([
  'page',
  'page_host',
  'country',
  'region',
  'city',
  'network_domain',
  'browser',
  'os',
  'device',
  'classification',
]);

/**
 * The visit-level dimensions kept in derived rows of their own: a visit's attribution (its first
 * hit's traffic source, docs/metrics.md "Visit-level attribution") and its entry page. A visit's
 * hits count under them as part of the visit's contribution (stats_visit_contributions), taken
 * out and put back whole when the sessionizer changes the visit: the attribution count keys
 * (visitors and hits) and stats_visit_sources (visit sums). Exit page is not kept: it changes
 * with every page view a visit gains.
 */
export const ATTRIBUTION_DIMENSIONS = [
  'source',
  'referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'entry_page',
] as const satisfies readonly Dimension[];
export type AttributionDimension = (typeof ATTRIBUTION_DIMENSIONS)[number];

export function isAttributionDimension(dimension: string): dimension is AttributionDimension {
  return (ATTRIBUTION_DIMENSIONS as readonly string[]).includes(dimension);
}

/** The visit fields of ATTRIBUTION_DIMENSIONS (`source`, `utmSource`, `entryPath`, …). */
export const ATTRIBUTION_FIELDS: readonly string[] = ATTRIBUTION_DIMENSIONS.map(
  (dimension) => DIMENSION_SOURCES[dimension].field,
);

/** Hit fields copied into each rollup row (besides `visitorKey`), named as on the hit. */
export const ROLLUP_FIELDS = [...ROLLUP_DIMENSIONS].map((dimension) => DIMENSION_SOURCES[dimension].field);

/** A dimension set: the hit fields its rows keep (classification is on every row). */
export interface DimensionSet {
  name: string;
  fields: readonly string[];
}

/**
 * Fields that stay the same across a visitor's hits of a day (a visitor is an IP, or a user, so
 * its place, network and device rarely change within a day, and its pages are on one host of the
 * site): rows keyed by all of them together are hardly more than one per visitor-day, so one set
 * serves totals and every breakdown by them.
 */
const PER_VISITOR_FIELDS = ['countryCode', 'region', 'city', 'networkDomain', 'browser', 'os', 'device', 'host'];

/**
 * The narrow visitor-row sets kept besides the full-combination rows: `visitor` answers totals
 * and place/device/host breakdowns with about one row per visitor-day. A query is answered from
 * the first set holding every field it groups or filters by, else from the full rows. Pages have
 * no set: a visitor's rows of a day differ mostly by page, so the full rows hardly outnumber what
 * a page set would hold (docs/stats-maintenance.md, "Storage") and answer page queries themselves.
 */
export const VISITOR_SETS: readonly DimensionSet[] = [{ name: 'visitor', fields: PER_VISITOR_FIELDS }];

/**
 * The visitor set user stats read: about one row per visitor and day. Only its rows keep the
 * visitor's first and last hit time and whether a hit was identified; no other read needs them.
 */
export const USER_STATS_SET = 'visitor';

/**
 * The hit-count sets: counts need no visitor, so `total` (no field) keeps them at one row per
 * hour and classification, and single fields stay at one row per hour and value. Only what is
 * read without visitors is kept: totals (page views, bot share) and the commonest page-view
 * lists; any other count comes from the visitor sets. Keying counts by all per-visitor fields
 * together, as the `visitor` set does, made about one row per hit: no better than raw hits.
 */
export const HIT_COUNT_SETS: readonly DimensionSet[] = [
  { name: 'total', fields: [] },
  { name: 'country', fields: ['countryCode'] },
  { name: 'page', fields: ['path'] },
];

/**
 * The same counts per local day (stats_hit_days), for every query without an hourly interval:
 * one row per day and value instead of up to 24. The visitor count keys (VISITOR_COUNT_KEYS)
 * need no set here: their count rows carry their own page views and hits.
 */
export const HIT_DAY_SETS: readonly DimensionSet[] = HIT_COUNT_SETS;

/** The narrowest of `sets` able to answer the query, or undefined when none can. */
export function narrowestSet(query: StatsQuery, sets: readonly DimensionSet[]): string | undefined {
  const needed = [...query.dimensions, ...query.filters.map((filter) => filter.dimension)]
    .filter((dimension) => dimension !== 'classification')
    .map((dimension) => DIMENSION_SOURCES[dimension].field);
  return sets.find((set) => needed.every((field) => set.fields.includes(field)))?.name;
}

export interface DaySlice {
  /** `YYYY-MM-DD` in the site's time zone. */
  day: string;
  start: Date;
  end: Date;
}

/** The label of the bucket a `YYYY-MM-DD` day string falls in (weeks start Monday). */
export function dayBucket(interval: Exclude<Interval, 'hour'>): unknown {
  switch (interval) {
    case 'day':
      return '$day';
    case 'month':
      return { $concat: [{ $substrCP: ['$day', 0, 7] }, '-01'] };
    case 'week':
      return {
        $dateToString: {
          date: {
            $dateTrunc: {
              date: { $dateFromString: { dateString: '$day', timezone: 'UTC' } },
              unit: 'week',
              startOfWeek: 'monday',
              timezone: 'UTC',
            },
          },
          format: '%Y-%m-%d',
          timezone: 'UTC',
        },
      };
  }
}

export interface RollupCoverage {
  fromDay: string;
  toDay: string;
  /** Days of the range whose rollup is not final (hits past the watermark): read from raw hits. */
  rawDays: DaySlice[];
  /**
   * The narrow visitor set the query reads (on stats_visitor_sets), or undefined for the
   * full-combination rows (stats_visitor_days).
   */
  set?: string;
}

/**
 * The same sums as `buildHitMetricsPipeline` from the rollup rows of the range's settled days,
 * with each group's distinct visitor keys as `visitorKeys` (the caller unites them with those of
 * `buildRawDaysHitKeysPipeline` for the unsettled days, then counts) — or, when every day is
 * settled, the count itself as `visitors`. The raw days are read by a separate aggregate rather
 * than `$unionWith`, which on the embedded store materializes the whole hits collection. Only
 * valid for the queries `sourceCandidates` plans on visitor rows. Run on stats_visitor_sets when `coverage.set` is
 * given (served by `{ siteId, set, day }`), else on stats_visitor_days (served by `{ siteId, day }`).
 */
export function buildRollupHitMetricsPipeline(
  query: StatsQuery,
  coverage: RollupCoverage,
  options: { classification: boolean } = { classification: true },
): PipelineStage[] {
  const interval = query.interval === 'hour' ? undefined : query.interval;
  // The rows store some fields under short names (visitor-row-names.ts): the key and the
  // conditions are written with the hit names and mapped there.
  const rowPath = (dimension: Dimension) => visitorRowPath(DIMENSION_SOURCES[dimension].field);
  const key = {
    ...dimensionKeys(query.dimensions, { hit: rowPath, visit: rowPath }),
    ...(interval ? { time: dayBucket(interval) } : {}),
  };
  const visitors = coverage.rawDays.length === 0 ? { visitors: { $size: '$visitors' } } : { visitorKeys: '$visitors' };
  const events = visitorRowPath('events');
  return [
    {
      $match: visitorRowCondition({
        $and: [
          { siteId: query.siteId },
          ...(coverage.set ? [{ set: coverage.set }] : []),
          { day: settledDays(coverage) },
          ...rowConditions(query, options),
        ],
      }),
    },
    // `$addToSet` rather than grouping per visitor first: measured twice as fast on the embedded
    // store, and within MongoDB's 100 MB accumulator bound up to about two million visitors per group.
    {
      $group: {
        _id: groupId(key),
        visitors: { $addToSet: visitorRowPath('visitorKey') },
        pageviews: { $sum: visitorRowPath('pageviews') },
        events: { $sum: events },
        botHits: { $sum: { $cond: [{ $eq: [visitorRowPath('classification'), 'BOT'] }, events, 0] } },
      },
    },
    { $project: { _id: 0, key: '$_id', ...visitors, pageviews: 1, events: 1, botHits: 1 } },
  ];
}

/**
 * The raw hits of the unsettled days grouped as `buildRollupHitMetricsPipeline` groups rows, with
 * each group's distinct `visitorKeys`. Served by the `{ siteId, ts }` index on hits.
 */
export function buildRawDaysHitKeysPipeline(
  query: StatsQuery,
  rawDays: DaySlice[],
  options: { classification: boolean },
): PipelineStage[] {
  const interval = query.interval === 'hour' ? undefined : query.interval;
  const key = {
    ...dimensionKeys(query.dimensions, { hit: hitFieldPath, visit: hitFieldPath }),
    ...(interval ? { time: bucketExpression('$ts', interval, query.timezone) } : {}),
  };
  return [
    matchListedDays(query.siteId, 'ts', rawDays, rowConditions(query, options)),
    {
      $group: {
        _id: groupId(key),
        visitorKeys: { $addToSet: '$visitorKey' },
        pageviews: { $sum: IS_PAGEVIEW },
        events: { $sum: 1 },
        botHits: { $sum: IS_BOT_HIT },
      },
    },
    { $project: { _id: 0, key: '$_id', visitorKeys: 1, pageviews: 1, events: 1, botHits: 1 } },
  ];
}

/**
 * `buildRawDaysHitKeysPipeline` for a query grouped by one attribution dimension: each hit
 * counts under its visit's value (hits without a visit yet count under none, as in
 * `buildHitMetricsPipeline`). Served by `{ siteId, ts }` on hits, then one visit look-up per
 * visit of the days.
 */
export function buildRawDaysAttributedHitKeysPipeline(query: StatsQuery, rawDays: DaySlice[]): PipelineStage[] {
  const interval = query.interval === 'hour' ? undefined : query.interval;
  const [dimension] = query.dimensions;
  return [
    matchListedDays(query.siteId, 'ts', rawDays, rowConditions(query, { classification: true })),
    {
      $group: {
        _id: {
          visitId: '$visitId',
          visitorKey: '$visitorKey',
          ...(interval ? { time: bucketExpression('$ts', interval, query.timezone) } : {}),
        },
        pageviews: { $sum: IS_PAGEVIEW },
        events: { $sum: 1 },
        botHits: { $sum: IS_BOT_HIT },
      },
    },
    ...lookupVisit(),
    {
      $group: {
        _id: {
          [dimension]: { $ifNull: [`$visit.${DIMENSION_SOURCES[dimension].field}`, null] },
          ...(interval ? { time: '$_id.time' } : {}),
        },
        visitorKeys: { $addToSet: '$_id.visitorKey' },
        pageviews: { $sum: '$pageviews' },
        events: { $sum: '$events' },
        botHits: { $sum: '$botHits' },
      },
    },
    { $project: { _id: 0, key: '$_id', visitorKeys: 1, pageviews: 1, events: 1, botHits: 1 } },
  ];
}

/** The classification (unless told otherwise) and filters, on rollup rows or hits alike (same field names). */
function rowConditions(query: StatsQuery, options: { classification: boolean }): Record<string, unknown>[] {
  const conditions: Record<string, unknown>[] = [];
  if (options.classification && query.classification !== 'ALL')
    conditions.push({ classification: query.classification });
  conditions.push(...query.filters.map((filter) => filterCondition(filter)));
  return conditions;
}

/**
 * The 15-minute UTC buckets (every real UTC offset is a multiple of 15 minutes, so each bucket
 * lies within one local day) of hits received after the watermark, per site. Served by the
 * `{ receivedAt }` index on hits.
 */
export function buildPendingBucketsPipeline(input: {
  after: Date;
  until?: Date;
  siteId?: Types.ObjectId;
}): PipelineStage[] {
  return [
    ...matchReceivedAfter(input),
    { $group: { _id: { siteId: '$siteId', bucket: { $dateTrunc: { date: '$ts', unit: 'minute', binSize: 15 } } } } },
    { $project: { _id: 0, siteId: '$_id.siteId', bucket: '$_id.bucket' } },
  ];
}

/**
 * Hits received after the watermark (and up to `until`), of one site if given. The receivedAt
 * range comes alone in the first `$match` so that the `{ receivedAt }` index answers it: with the
 * site in the same stage a planner may prefer `{ siteId, ts }` and scan every hit of the site,
 * which made every read O(site's hits) just to learn that nothing was pending.
 */
function matchReceivedAfter(input: { after: Date; until?: Date; siteId?: Types.ObjectId }): PipelineStage.Match[] {
  const receivedAt = input.until ? { $gt: input.after, $lte: input.until } : { $gt: input.after };
  return [{ $match: { receivedAt } }, ...(input.siteId ? [{ $match: { siteId: input.siteId } }] : [])];
}

/**
 * Per site and visit, the first and last time of the hits received after the watermark: the
 * visits these hits joined, extended or merged start on the day of their visit's start or within
 * the idle timeout of them, which is what the visit-hour rollup must recompute. Served by the
 * `{ receivedAt }` index on hits.
 */
export function buildPendingVisitSpansPipeline(input: {
  after: Date;
  until?: Date;
  siteId?: Types.ObjectId;
}): PipelineStage[] {
  return [
    ...matchReceivedAfter(input),
    {
      $group: {
        _id: { siteId: '$siteId', visitId: { $ifNull: ['$visitId', null] } },
        firstTs: { $min: '$ts' },
        lastTs: { $max: '$ts' },
      },
    },
    { $project: { _id: 0, siteId: '$_id.siteId', visitId: '$_id.visitId', firstTs: 1, lastTs: 1 } },
  ];
}

/**
 * The user stats of `buildUserStatsPipeline` from the rollup: the site's human rows of settled
 * days plus the raw human hits of the days still being rolled up, one row per visitor, then the
 * same totals. Run on stats_visitor_sets, served by `{ siteId, set, day }` (set `visitor`:
 * about one row per visitor and day).
 */
export function buildRollupUserStatsPipeline(siteId: Types.ObjectId, now: Date, rawDays: DaySlice[]): PipelineStage[] {
  const union: PipelineStage[] =
    rawDays.length === 0
      ? []
      : [
          {
            $unionWith: {
              coll: 'hits',
              pipeline: [
                {
                  $match: {
                    siteId,
                    classification: 'USER',
                    $or: rawDays.map((slice) => ({ ts: { $gte: slice.start, $lt: slice.end } })),
                  },
                },
                // The raw hits in the rows' shape, their fields under the rows' stored names.
                {
                  $project: {
                    _id: 0,
                    ...storedVisitorRowFields<unknown>({
                      visitorKey: '$visitorKey',
                      firstTs: '$ts',
                      lastTs: '$ts',
                      identified: IS_IDENTIFIED,
                    }),
                  },
                },
              ],
            },
          },
        ];
  return [
    {
      $match: visitorRowCondition({
        siteId,
        set: USER_STATS_SET,
        classification: 'USER',
        day: { $nin: rawDays.map((slice) => slice.day) },
      }),
    },
    ...union,
    {
      $group: {
        _id: visitorRowPath('visitorKey'),
        firstSeen: { $min: visitorRowPath('firstTs') },
        lastSeen: { $max: visitorRowPath('lastTs') },
        identified: { $max: visitorRowPath('identified') },
      },
    },
    ...userStatsTotals(now),
  ];
}
