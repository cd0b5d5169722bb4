import type { PipelineStage, Types } from 'mongoose';
import { PAGEVIEW } from '../../ingestion/schemas/hit.schema.js';
import { DIMENSION_SOURCES, dimensionLevel, type Dimension } from '../query/dimensions.js';
import type { Filter, Interval, StatsQuery } from '../query/stats-query.js';

/** Building blocks shared by every stats pipeline, so each metric is defined in one place. */

type Expression = Record<string, unknown> | string | number;
type Condition = Record<string, unknown>;

export const VISITS_COLLECTION = 'visits';

/** A hit is a page view when its name is `pageview`; every other name is a custom event. */
export const IS_PAGEVIEW: Expression = { $cond: [{ $eq: ['$name', PAGEVIEW] }, 1, 0] };
export const IS_BOT_HIT: Expression = { $cond: [{ $eq: ['$classification', 'BOT'] }, 1, 0] };

const BUCKET_FORMATS: Record<Exclude<Interval, 'week'>, string> = {
  hour: '%Y-%m-%dT%H:00',
  day: '%Y-%m-%d',
  month: '%Y-%m-01',
};

/**
 * The `day` condition of a range's settled days: its bounds, less the days still read from raw
 * hits. With none, no `$nin`: the bounds alone are a key range an index on `day` answers
 * exactly, so the store need not re-check each rollup row.
 */
export function settledDays(days: { fromDay: string; toDay: string; rawDays: Array<{ day: string }> }): Condition {
  const bounds = { $gte: days.fromDay, $lte: days.toDay };
  return days.rawDays.length === 0 ? bounds : { ...bounds, $nin: days.rawDays.map((slice) => slice.day) };
}

/** The label of the time bucket `datePath` falls in, in the site's time zone (weeks start Monday). */
export function bucketExpression(datePath: string, interval: Interval, timezone: string): Expression {
  if (interval === 'week') {
    return {
      $dateToString: {
        date: { $dateTrunc: { date: datePath, unit: 'week', startOfWeek: 'monday', timezone } },
        format: '%Y-%m-%d',
        timezone,
      },
    };
  }
  return { $dateToString: { date: datePath, format: BUCKET_FORMATS[interval], timezone } };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A filter as a query condition on `prefix + field`. Values are matched literally (`contains`
 * escapes them), so user input can never become an operator.
 */
export function filterCondition(filter: Filter, prefix = ''): Condition {
  const path = prefix + DIMENSION_SOURCES[filter.dimension].field;
  switch (filter.operator) {
    case 'is':
      return { [path]: { $in: filter.values } };
    case 'is_not':
      return { [path]: { $nin: filter.values } };
    case 'contains':
      return { $or: filter.values.map((value) => ({ [path]: { $regex: escapeRegex(value), $options: 'i' } })) };
    case 'not_contains':
      return { $nor: filter.values.map((value) => ({ [path]: { $regex: escapeRegex(value), $options: 'i' } })) };
  }
}

export function hitFilters(query: StatsQuery): Filter[] {
  return query.filters.filter((filter) => dimensionLevel(filter.dimension) === 'hit');
}

export function visitFilters(query: StatsQuery): Filter[] {
  return query.filters.filter((filter) => dimensionLevel(filter.dimension) === 'visit');
}

export function hitDimensions(query: StatsQuery): Dimension[] {
  return query.dimensions.filter((dimension) => dimensionLevel(dimension) === 'hit');
}

export function visitDimensions(query: StatsQuery): Dimension[] {
  return query.dimensions.filter((dimension) => dimensionLevel(dimension) === 'visit');
}

/** Whether answering needs each hit's visit (a visit-level dimension or filter is involved). */
export function needsVisitOfHit(query: StatsQuery): boolean {
  return visitDimensions(query).length > 0 || visitFilters(query).length > 0;
}

/**
 * The `$match` on raw hits: one site, `start <= ts < end`, the hit-level filters and, unless told
 * otherwise, the classification. Served by the `{ siteId, ts }` index on hits.
 */
export function matchHits(query: StatsQuery, options: { classification: boolean }): PipelineStage.Match {
  const conditions: Condition[] = [{ siteId: query.siteId }, { ts: { $gte: query.start, $lt: query.end } }];
  if (options.classification && query.classification !== 'ALL') {
    conditions.push({ classification: query.classification });
  }
  conditions.push(...hitFilters(query).map((filter) => filterCondition(filter)));
  return { $match: { $and: conditions } };
}

/** Joins each group's visit (by `_id.visitId`) as `visit`, dropping groups whose visit is unknown. */
export function lookupVisit(): PipelineStage[] {
  return [
    { $lookup: { from: VISITS_COLLECTION, localField: '_id.visitId', foreignField: '_id', as: 'visit' } },
    { $unwind: '$visit' },
  ];
}

/** Group-key fields for the dimensions: hit-level ones read from `hitPrefix`, visit-level from `visitPrefix`. */
export function dimensionKeys(
  dimensions: Dimension[],
  paths: { hit: (dimension: Dimension) => string; visit: (dimension: Dimension) => string },
): Record<string, Expression> {
  const keys: Record<string, Expression> = {};
  for (const dimension of dimensions) {
    const path = dimensionLevel(dimension) === 'hit' ? paths.hit(dimension) : paths.visit(dimension);
    // A missing field groups as null, the same on every store.
    keys[dimension] = { $ifNull: [path, null] };
  }
  return keys;
}

export function hitFieldPath(dimension: Dimension): string {
  return `$${DIMENSION_SOURCES[dimension].field}`;
}

export function visitFieldPath(dimension: Dimension, prefix: string): string {
  return `$${prefix}${DIMENSION_SOURCES[dimension].field}`;
}

/** `null` groups everything together; an empty key object would too, but not on every store. */
export function groupId(key: Record<string, unknown>): Record<string, unknown> | null {
  return Object.keys(key).length > 0 ? key : null;
}

/**
 * `$match` of one site's documents whose `timeField` falls on one of the listed local days (sorted,
 * each `[start, end)`), plus `conditions`. The enclosing range lets an index on
 * `{ siteId, <timeField> }` bound the scan; the `$or` keeps only the listed days.
 */
export function matchListedDays(
  siteId: Types.ObjectId,
  timeField: 'ts' | 'start',
  days: Array<{ start: Date; end: Date }>,
  conditions: Condition[],
): PipelineStage.Match {
  if (days.length === 0) throw new Error('no raw days to read');
  return {
    $match: {
      $and: [
        { siteId },
        { [timeField]: { $gte: days[0].start, $lt: days[days.length - 1].end } },
        { $or: days.map((day) => ({ [timeField]: { $gte: day.start, $lt: day.end } })) },
        ...conditions,
      ],
    },
  };
}
