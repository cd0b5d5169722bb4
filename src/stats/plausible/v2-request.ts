import { BadRequestException } from '@nestjs/common';
import type { Period } from '../query/date-range.js';
import { parseDimension } from '../query/dimensions.js';
import { GOAL_DIMENSION, type BehaviourOperator } from '../query/goal-query.js';
import type { FilterOperator, Interval, QueryMetric } from '../query/stats-query.js';
import {
  V2_DIMENSIONS,
  V2_GOAL_DIMENSION,
  V2_METRICS,
  V2_PROPS_PREFIX,
  V2_TIME_DIMENSIONS,
  V2_UNSUPPORTED_DIMENSIONS,
  V2_UNSUPPORTED_METRICS,
} from './v2-names.js';

/**
 * A Plausible Stats API v2 request (`POST /api/v2/query`), checked and translated into the
 * parts of Siteline's own general query. Every refusal is a 400 naming the field and, for what
 * Plausible has and Siteline has not, saying so.
 */
export interface V2Request {
  siteId: string;
  /** As asked, in order (v2 names) and as Siteline metrics. */
  v2Metrics: string[];
  metrics: QueryMetric[];
  dateRange: V2DateRange;
  /** As asked, in order: v2 names; `dimensions` holds the Siteline ones of the non-time entries. */
  v2Dimensions: string[];
  dimensions: string[];
  /** The time dimension's grouping, if one was asked (`auto` for plain `time`). */
  time?: Interval | 'auto';
  /** Siteline filters as data (`[operator, dimension, values]`), all of which must hold. */
  filters: Array<[FilterOperator | BehaviourOperator, string, Array<string | number>]>;
  /** The saved segment of a top-level `["is", "segment", [id]]` filter, ANDed with `filters`. */
  segment?: string;
  /** Siteline `orderBy` fields with directions, or empty for the default order. */
  orderBy: Array<{ field: string; direction: 'asc' | 'desc' }>;
  include: { timeLabels: boolean; totalRows: boolean; imports: boolean };
  pagination: { limit: number; offset: number };
  /** The request's own values, echoed back under `query`. */
  echo: { filters: unknown[]; orderBy: unknown[] | undefined; include: Record<string, unknown> };
}

export type V2DateRange =
  | { kind: 'period'; period: Period }
  | { kind: 'since'; name: '28d' | '91d' | 'year' | 'all' }
  | { kind: 'days'; from: string; to: string };

const PERIOD_NAMES: readonly Period[] = ['day', '7d', '30d', 'month', '6mo', '12mo'];
const SINCE_NAMES = ['28d', '91d', 'year', 'all'] as const;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_LIMIT = 10_000;
const MAX_FILTER_DEPTH = 8;

const KNOWN_KEYS = new Set([
  'site_id',
  'metrics',
  'date_range',
  'date',
  'dimensions',
  'filters',
  'order_by',
  'include',
  'pagination',
]);

const bad = (message: string) => new BadRequestException(message);
const quote = (value: unknown) => JSON.stringify(value) ?? String(value);

export function parseV2Request(body: unknown): V2Request {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('The request body must be a JSON object');
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) throw bad(`Unknown key ${quote(key)} in the request body`);
  }
  if (typeof input.site_id !== 'string' || input.site_id.trim() === '' || input.site_id.length > 253) {
    throw bad('site_id must be the domain of the site to query');
  }
  if (input.date !== undefined) throw bad('date is not supported by Siteline: give date_range as two ISO dates');

  const v2Metrics = parseMetrics(input.metrics);
  const { v2Dimensions, dimensions, time } = parseDimensions(input.dimensions);
  const { filters, segment } = parseFilterList(input.filters);
  const include = parseInclude(input.include, time !== undefined);
  return {
    siteId: input.site_id,
    v2Metrics,
    metrics: v2Metrics.map((name) => V2_METRICS[name]),
    dateRange: parseDateRange(input.date_range),
    v2Dimensions,
    dimensions,
    ...(time ? { time } : {}),
    filters,
    ...(segment !== undefined ? { segment } : {}),
    orderBy: parseOrderBy(input.order_by, v2Metrics, v2Dimensions),
    include,
    pagination: parsePagination(input.pagination),
    echo: {
      filters: Array.isArray(input.filters) ? input.filters : [],
      orderBy: Array.isArray(input.order_by) ? input.order_by : undefined,
      include: (input.include as Record<string, unknown> | undefined) ?? {},
    },
  };
}

function parseMetrics(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw bad('metrics must be a non-empty list of metric names');
  const names = value.map((name, index) => {
    if (typeof name !== 'string') throw bad(`#/metrics/${index}: Invalid metric ${quote(name)}`);
    if (V2_UNSUPPORTED_METRICS[name]) {
      throw bad(`Metric \`${name}\` is not supported by Siteline: ${V2_UNSUPPORTED_METRICS[name]}`);
    }
    if (!V2_METRICS[name]) throw bad(`#/metrics/${index}: Invalid metric ${quote(name)}`);
    return name;
  });
  if (new Set(names).size !== names.length) throw bad('metrics must not repeat');
  return names;
}

/** A non-time v2 dimension (or filter dimension) as Siteline's, or a 400 naming it. */
function sitelineDimension(name: unknown, where: string): string {
  if (typeof name !== 'string') throw bad(`${where}: Invalid dimension ${quote(name)}`);
  if (name.startsWith(V2_PROPS_PREFIX)) return parseDimension(`prop:${name.slice(V2_PROPS_PREFIX.length)}`, where);
  if (name === V2_GOAL_DIMENSION) return GOAL_DIMENSION;
  if (V2_UNSUPPORTED_DIMENSIONS[name]) {
    throw bad(`${where}: \`${name}\` is not supported by Siteline: ${V2_UNSUPPORTED_DIMENSIONS[name]}`);
  }
  const dimension = V2_DIMENSIONS[name];
  if (!dimension) throw bad(`${where}: Invalid dimension ${quote(name)}`);
  return dimension;
}

function parseDimensions(value: unknown): Pick<V2Request, 'v2Dimensions' | 'dimensions' | 'time'> {
  if (value === undefined) return { v2Dimensions: [], dimensions: [] };
  if (!Array.isArray(value)) throw bad('dimensions must be a list of dimension names');
  const v2Dimensions: string[] = [];
  const dimensions: string[] = [];
  let time: Interval | 'auto' | undefined;
  value.forEach((name: unknown, index) => {
    if (typeof name === 'string' && V2_TIME_DIMENSIONS[name]) {
      if (time) throw bad('dimensions: only one time dimension can be given');
      time = V2_TIME_DIMENSIONS[name];
    } else {
      dimensions.push(sitelineDimension(name, `#/dimensions/${index}`));
    }
    v2Dimensions.push(name as string);
  });
  if (new Set(v2Dimensions).size !== v2Dimensions.length) throw bad('dimensions must not repeat');
  if (new Set(dimensions).size !== dimensions.length) {
    throw bad('dimensions: two of them are the same dimension in Siteline (e.g. visit:country and visit:country_name)');
  }
  if (dimensions.length > 3) throw bad('dimensions: Siteline groups by at most 3 dimensions besides time');
  return { v2Dimensions, dimensions, ...(time ? { time } : {}) };
}

function parseDateRange(value: unknown): V2DateRange {
  if (typeof value === 'string') {
    if ((PERIOD_NAMES as readonly string[]).includes(value)) return { kind: 'period', period: value as Period };
    if ((SINCE_NAMES as readonly string[]).includes(value)) return { kind: 'since', name: value as '28d' };
    if (value === '24h')
      throw bad('date_range "24h" is not supported by Siteline: its ranges are whole days; use "day"');
    throw bad(`Invalid date_range ${quote(value)}`);
  }
  if (Array.isArray(value) && value.length === 2 && value.every((item) => typeof item === 'string')) {
    const [from, to] = value as [string, string];
    if (ISO_DATE.test(from) && ISO_DATE.test(to)) return { kind: 'days', from, to };
    throw bad(
      `date_range ${quote(value)} is not supported by Siteline: give two ISO dates (YYYY-MM-DD); ranges with times are not`,
    );
  }
  throw bad(`Invalid date_range ${quote(value)}`);
}

const OPERATORS: Readonly<Record<string, { operator: FilterOperator; negated: FilterOperator }>> = {
  is: { operator: 'is', negated: 'is_not' },
  is_not: { operator: 'is_not', negated: 'is' },
  contains: { operator: 'contains', negated: 'not_contains' },
  contains_not: { operator: 'not_contains', negated: 'contains' },
};

type NativeFilter = [FilterOperator | BehaviourOperator, string, Array<string | number>];

/**
 * v2 filters as Siteline's, which must all hold: `and` flattens, `not` of a condition negates its
 * operator, and `or` of conditions on one dimension with one operator (`is`/`contains`) merges
 * their values. Other trees, and `matches`/`matches_not`, have no Siteline equivalent yet: 400.
 */
function parseFilterList(value: unknown): { filters: NativeFilter[]; segment?: string } {
  if (value === undefined) return { filters: [] };
  if (!Array.isArray(value)) throw bad('filters must be a list of filters');
  const segments = value.flatMap((item, index) => segmentOf(item, `#/filters/${index}`));
  if (segments.length > 1) throw bad('filters: Siteline applies one saved segment per query');
  const filters = value
    .map((item, index) => ({ item, where: `#/filters/${index}` }))
    .filter(({ item }) => segmentOf(item, '').length === 0)
    .flatMap(({ item, where }) => translateFilter(item, where, false, 0));
  return { filters, ...(segments.length === 1 ? { segment: segments[0] } : {}) };
}

/**
 * A top-level `["is", "segment", [id]]` (Plausible's saved-segment filter) as the segment's id;
 * empty for any other filter. Only one id: Siteline ANDs a segment with the other filters and
 * has no `or` of segments.
 */
function segmentOf(item: unknown, where: string): string[] {
  if (!Array.isArray(item) || item[0] !== 'is' || item[1] !== 'segment') return [];
  const ids = item[2] as unknown;
  if (item.length !== 3 || !Array.isArray(ids) || ids.length !== 1) {
    throw bad(`${where}: a segment filter is ["is", "segment", [id]] with exactly one segment id`);
  }
  const [id] = ids as unknown[];
  if (typeof id !== 'string' && typeof id !== 'number') throw bad(`${where}/2: a segment id is a string`);
  return [String(id)];
}

function translateFilter(item: unknown, where: string, negate: boolean, depth: number): NativeFilter[] {
  if (depth > MAX_FILTER_DEPTH) throw bad(`${where}: filters are nested too deeply`);
  if (!Array.isArray(item) || item.length < 2) throw bad(`${where}: Invalid filter ${quote(item)}`);
  const [head] = item as [unknown];
  if (head === 'has_done' || head === 'has_not_done') return [translateBehaviour(item, where, negate)];
  if (head === 'not') {
    if (item.length !== 2) throw bad(`${where}: Invalid filter ${quote(item)}`);
    return translateFilter(item[1], `${where}/1`, !negate, depth + 1);
  }
  if (head === 'and' || head === 'or') {
    const children = item[1] as unknown;
    if (item.length !== 2 || !Array.isArray(children) || children.length === 0) {
      throw bad(`${where}: Invalid filter ${quote(item)}`);
    }
    // not(and(a, b)) = or(not a, not b); not(or(a, b)) = and(not a, not b).
    const conjunction = (head === 'and') !== negate;
    const translated = children.map((child, index) => translateFilter(child, `${where}/1/${index}`, negate, depth + 1));
    if (conjunction) return translated.flat();
    return [mergeDisjunction(translated, where)];
  }
  return [translateCondition(item, where, negate)];
}

/**
 * `["has_done", ["is", "event:goal", names]]`: the visitors who completed (or, `has_not_done`,
 * did not complete) one of those goals in the range. Siteline supports it on goals only.
 */
function translateBehaviour(item: unknown[], where: string, negate: boolean): NativeFilter {
  const [head, inner] = item as [string, unknown];
  const operator = (head === 'has_done') !== negate ? 'has_done' : 'has_not_done';
  if (
    item.length !== 2 ||
    !Array.isArray(inner) ||
    inner.length !== 3 ||
    inner[0] !== 'is' ||
    inner[1] !== V2_GOAL_DIMENSION ||
    !Array.isArray(inner[2]) ||
    inner[2].length === 0
  ) {
    throw bad(
      `${where}: Siteline supports ${head} only around ["is", "event:goal", [goal names]] (other event conditions are not supported)`,
    );
  }
  return [operator, GOAL_DIMENSION, inner[2] as string[]];
}

function translateCondition(item: unknown[], where: string, negate: boolean): NativeFilter {
  if (item.length !== 3 && item.length !== 4) throw bad(`${where}: Invalid filter ${quote(item)}`);
  const [operatorName, dimensionName, clauses, modifiers] = item as [unknown, unknown, unknown, unknown];
  if (operatorName === 'matches' || operatorName === 'matches_not' || operatorName === 'matches_wildcard') {
    throw bad(`${where}: the filter operator \`${operatorName}\` is not supported by Siteline; use contains`);
  }
  const operators = typeof operatorName === 'string' ? OPERATORS[operatorName] : undefined;
  if (!operators) throw bad(`${where}: Invalid filter operator ${quote(operatorName)}`);
  if (typeof dimensionName === 'string' && V2_TIME_DIMENSIONS[dimensionName]) {
    throw bad(`${where}: time dimensions cannot be filtered by; use date_range`);
  }
  if (dimensionName === 'segment') {
    throw bad(`${where}: a segment filter must stand at the top level as ["is", "segment", [id]]`);
  }
  const dimension = sitelineDimension(dimensionName, `${where}/1`);
  if (!Array.isArray(clauses) || clauses.length === 0) throw bad(`${where}/2: filter values must be a non-empty list`);
  if (modifiers !== undefined) {
    const options = modifiers as Record<string, unknown> | null;
    const keys = typeof options === 'object' && options !== null ? Object.keys(options) : ['?'];
    if (keys.some((key) => key !== 'case_sensitive') || typeof options?.case_sensitive !== 'boolean') {
      throw bad(`${where}/3: the only filter option Siteline knows is case_sensitive (true or false)`);
    }
    if (options.case_sensitive && operators.operator !== 'is' && operators.operator !== 'is_not') {
      throw bad(`${where}/3: case-sensitive contains is not supported by Siteline: contains ignores case`);
    }
    if (!options.case_sensitive && (operators.operator === 'is' || operators.operator === 'is_not')) {
      throw bad(`${where}/3: case-insensitive is is not supported by Siteline; use contains`);
    }
  }
  return [negate ? operators.negated : operators.operator, dimension, clauses as Array<string | number>];
}

/** `or` of conditions: only one dimension under one positive operator has a Siteline equivalent. */
function mergeDisjunction(alternatives: NativeFilter[][], where: string): NativeFilter {
  const conditions = alternatives.map((list) => {
    if (list.length !== 1) throw bad(`${where}: this combination of or and and is not supported by Siteline`);
    return list[0];
  });
  const [operator, dimension] = conditions[0];
  const same = conditions.every((condition) => condition[0] === operator && condition[1] === dimension);
  if (!same || (operator !== 'is' && operator !== 'contains')) {
    throw bad(
      `${where}: or is supported by Siteline only between is (or contains) conditions on one dimension, ` +
        'which it reads as one condition with all their values',
    );
  }
  return [operator, dimension, conditions.flatMap((condition) => condition[2])];
}

function parseOrderBy(value: unknown, metrics: string[], dimensions: string[]): V2Request['orderBy'] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw bad('order_by must be a list of [metric or dimension, "asc" | "desc"]');
  return value.map((entry: unknown, index) => {
    const where = `#/order_by/${index}`;
    if (!Array.isArray(entry) || entry.length !== 2 || (entry[1] !== 'asc' && entry[1] !== 'desc')) {
      throw bad(`${where}: Invalid order_by entry ${quote(entry)}`);
    }
    const [name, direction] = entry as [unknown, 'asc' | 'desc'];
    if (typeof name === 'string' && metrics.includes(name)) return { field: V2_METRICS[name], direction };
    if (typeof name === 'string' && dimensions.includes(name)) {
      return { field: V2_TIME_DIMENSIONS[name] ? 'time' : sitelineDimension(name, where), direction };
    }
    throw bad(`${where}: Invalid order_by entry ${quote(entry)}: it must be a queried metric or dimension`);
  });
}

function parseInclude(value: unknown, hasTime: boolean): V2Request['include'] {
  if (value === undefined) return { timeLabels: false, totalRows: false, imports: false };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('include must be an object');
  const include = value as Record<string, unknown>;
  for (const [key, item] of Object.entries(include)) {
    if (key === 'comparisons') throw bad('include.comparisons is not supported by Siteline');
    if (!['time_labels', 'total_rows', 'imports'].includes(key)) throw bad(`Unknown key ${quote(key)} in include`);
    if (typeof item !== 'boolean') throw bad(`include.${key} must be true or false`);
  }
  if (include.time_labels === true && !hasTime) {
    throw bad('Invalid include.time_labels: requires a time dimension');
  }
  return {
    timeLabels: include.time_labels === true,
    totalRows: include.total_rows === true,
    imports: include.imports === true,
  };
}

function parsePagination(value: unknown): V2Request['pagination'] {
  if (value === undefined) return { limit: MAX_LIMIT, offset: 0 };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('pagination must be an object');
  const { limit = MAX_LIMIT, offset = 0, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw bad(`Unknown key ${quote(Object.keys(rest)[0])} in pagination`);
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_LIMIT) {
    throw bad(`pagination.limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  if (!Number.isInteger(offset) || (offset as number) < 0) throw bad('pagination.offset must be an integer ≥ 0');
  return { limit: limit as number, offset: offset as number };
}
