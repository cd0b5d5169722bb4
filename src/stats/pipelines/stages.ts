import type { PipelineStage, Types } from 'mongoose';
import { PAGEVIEW } from '../../hits/hit.schema.js';
import { dimensionLevel, dimensionSource, isPropDimension, type QueryDimension } from '../query/dimensions.js';
import { visitorKeyConditions, type Filter, type Interval, type StatsQuery } from '../query/stats-query.js';

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
 * escapes them), so user input can never become an operator. A property is compared as text
 * (`plan=5` stored as a number matches "5"), the same text it is grouped by.
 */
export function filterCondition(filter: Filter<QueryDimension>, prefix = ''): Condition {
  const path = prefix + dimensionSource(filter.dimension).field;
  if (isPropDimension(filter.dimension)) return propFilterCondition(filter, path);
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

/** Property values may be strings, numbers or booleans: compare their text, a missing property being null. */
function propFilterCondition(filter: Filter<QueryDimension>, path: string): Condition {
  const text = { $toString: `$${path}` };
  const containsAny = {
    $or: filter.values.map((value) => ({
      $regexMatch: { input: { $ifNull: [text, ''] }, regex: escapeRegex(value), options: 'i' },
    })),
  };
  const isAny = { $in: [text, filter.values] };
  switch (filter.operator) {
    case 'is':
      return { $expr: isAny };
    case 'is_not':
      return { $expr: { $not: [isAny] } };
    case 'contains':
      return { $expr: containsAny };
    case 'not_contains':
      return { $expr: { $not: [containsAny] } };
  }
}

export function hitFilters<D extends QueryDimension>(query: StatsQuery<D>): Filter<D>[] {
  return query.filters.filter((filter) => dimensionLevel(filter.dimension) === 'hit');
}

export function visitFilters<D extends QueryDimension>(query: StatsQuery<D>): Filter<D>[] {
  return query.filters.filter((filter) => dimensionLevel(filter.dimension) === 'visit');
}

export function hitDimensions<D extends QueryDimension>(query: StatsQuery<D>): D[] {
  return query.dimensions.filter((dimension) => dimensionLevel(dimension) === 'hit');
}

export function visitDimensions<D extends QueryDimension>(query: StatsQuery<D>): D[] {
  return query.dimensions.filter((dimension) => dimensionLevel(dimension) === 'visit');
}

/** Whether answering needs each hit's visit (a visit-level dimension or filter is involved). */
export function needsVisitOfHit(query: StatsQuery<QueryDimension>): boolean {
  return visitDimensions(query).length > 0 || visitFilters(query).length > 0;
}

/**
 * The `$match` on raw hits: one site, `start <= ts < end`, the hit-level filters and, unless told
 * otherwise, the classification. Served by the `{ siteId, ts }` index on hits.
 */
export function matchHits(
  query: StatsQuery<QueryDimension>,
  options: { classification: boolean },
): PipelineStage.Match {
  const conditions: Condition[] = [{ siteId: query.siteId }, { ts: { $gte: query.start, $lt: query.end } }];
  if (options.classification && query.classification !== 'ALL') {
    conditions.push({ classification: query.classification });
  }
  conditions.push(...hitFilters(query).map((filter) => filterCondition(filter)));
  conditions.push(...visitorKeyConditions(query.visitorKeys));
  return { $match: { $and: conditions } };
}

/** Joins each group's visit (by `_id.visitId`) as `visit`, dropping groups whose visit is unknown. */
export function lookupVisit(): PipelineStage[] {
  return [
    { $lookup: { from: VISITS_COLLECTION, localField: '_id.visitId', foreignField: '_id', as: 'visit' } },
    { $unwind: '$visit' },
  ];
}

/** Group-key fields for the dimensions: hit-level ones read by `paths.hit`, visit-level by `paths.visit`. */
export function dimensionKeys<D extends QueryDimension>(
  dimensions: D[],
  paths: { hit: (dimension: D) => Expression; visit: (dimension: D) => Expression },
): Record<string, Expression> {
  const keys: Record<string, Expression> = {};
  for (const dimension of dimensions) {
    const path = dimensionLevel(dimension) === 'hit' ? paths.hit(dimension) : paths.visit(dimension);
    // A missing field groups as null, the same on every store.
    keys[dimension] = { $ifNull: [path, null] };
  }
  return keys;
}

/**
 * A hit-level dimension's value on a hit. A property's is its text (it may be stored as a
 * string, number or boolean), so `5` and `"5"` are one group and match the filter value "5".
 */
export function hitFieldPath(dimension: QueryDimension): Expression {
  const path = `$${dimensionSource(dimension).field}`;
  return isPropDimension(dimension) ? { $toString: path } : path;
}

export function visitFieldPath(dimension: QueryDimension, prefix: string): string {
  return `$${prefix}${dimensionSource(dimension).field}`;
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
