import { BadRequestException } from '@nestjs/common';
import { parseDimension, type QueryDimension } from './dimensions.js';
import { FILTER_OPERATORS, type Filter, type FilterOperator } from './stats-query.js';
import { isGoalFilterItem, parseGoalFilter, type BehaviourFilter, type GoalNameFilter } from './goal-query.js';

const MAX_FILTERS = 20;
const MAX_VALUES = 100;
const MAX_VALUE_LENGTH = 2048;

/**
 * Turns filters given as data — `[operator, dimension, values]`, e.g. `["is", "country", ["DE", "FR"]]`
 * — into validated `Filter`s. Operator and dimension must come from the allow-lists and values
 * must be strings or numbers (numbers become strings), so nothing a caller sends can turn into
 * a MongoDB operator. `parameter` names the field in the 400 message.
 */
export function parseFilters(input: unknown, parameter = 'filters'): Filter<QueryDimension>[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input))
    throw new BadRequestException(`${parameter} must be an array of [operator, dimension, values]`);
  if (input.length > MAX_FILTERS)
    throw new BadRequestException(`${parameter} must contain at most ${MAX_FILTERS} filters`);
  return input.map((item: unknown, index) => parseFilter(item, `${parameter}[${index}]`));
}

/**
 * Every filter a read can be given, goal filters included, sorted by kind: the ordinary ones
 * (`filters`), goal-name filters (`["is" | "contains", "goal", names]`, which make a read a goal
 * query) and behavioural ones (`["has_done" | "has_not_done", "goal", names]`). The syntax of a
 * saved segment's filters and of the `filters` parameter of the GET reads.
 */
export interface ReadFilters {
  filters: Filter<QueryDimension>[];
  goalNames: GoalNameFilter[];
  behaviours: BehaviourFilter[];
}

export function parseReadFilters(input: unknown, parameter = 'filters'): ReadFilters {
  const read: ReadFilters = { filters: [], goalNames: [], behaviours: [] };
  if (input === undefined || input === null) return read;
  if (!Array.isArray(input))
    throw new BadRequestException(`${parameter} must be an array of [operator, dimension, values]`);
  if (input.length > MAX_FILTERS)
    throw new BadRequestException(`${parameter} must contain at most ${MAX_FILTERS} filters`);
  input.forEach((item: unknown, index) => {
    const parsed = parseReadFilter(item, `${parameter}[${index}]`);
    if (parsed.kind === 'plain') read.filters.push(parsed.filter);
    else if (parsed.kind === 'behaviour') read.behaviours.push(parsed.filter);
    else read.goalNames.push(parsed.filter);
  });
  return read;
}

/** One filter of any kind (`ReadFilters`), checked; `name` names it in the 400. */
export function parseReadFilter(
  item: unknown,
  name: string,
):
  | { kind: 'plain'; filter: Filter<QueryDimension> }
  | { kind: 'name'; filter: GoalNameFilter }
  | { kind: 'behaviour'; filter: BehaviourFilter } {
  if (isGoalFilterItem(item)) return parseGoalFilter(item, name);
  return { kind: 'plain', filter: parseFilter(item, name) };
}

/** `a` and `b` both holding: a saved segment's filters (`a`) with a request's own. */
export function combineReadFilters(a: ReadFilters, b: ReadFilters): ReadFilters {
  return {
    filters: [...a.filters, ...b.filters],
    goalNames: [...a.goalNames, ...b.goalNames],
    behaviours: [...a.behaviours, ...b.behaviours],
  };
}

/** The GET form: `filters` as a JSON-encoded array in the query string, behavioural filters included. */
export function parseFiltersParameter(text: string | undefined): ReadFilters {
  if (text === undefined || text.trim() === '') return parseReadFilters(undefined);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequestException('filters must be a JSON array of [operator, dimension, values]');
  }
  return parseReadFilters(parsed);
}

function parseFilter(item: unknown, name: string): Filter<QueryDimension> {
  if (!Array.isArray(item) || item.length !== 3) {
    throw new BadRequestException(`${name} must be [operator, dimension, values]`);
  }
  const [operator, dimensionName, rawValues] = item as [unknown, unknown, unknown];
  if (typeof operator !== 'string' || !(FILTER_OPERATORS as readonly string[]).includes(operator)) {
    throw new BadRequestException(`${name} operator must be one of: ${FILTER_OPERATORS.join(', ')}`);
  }
  const dimension = parseDimension(dimensionName, `${name} dimension`);
  const list = Array.isArray(rawValues) ? (rawValues as unknown[]) : [rawValues];
  if (list.length === 0 || list.length > MAX_VALUES) {
    throw new BadRequestException(`${name} values must be a list of 1 to ${MAX_VALUES} strings or numbers`);
  }
  const values = list.map((value) => {
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'string' && value.length <= MAX_VALUE_LENGTH) return value;
    throw new BadRequestException(`${name} values must be strings (≤ ${MAX_VALUE_LENGTH} chars) or numbers`);
  });
  return { operator: operator as FilterOperator, dimension, values };
}
