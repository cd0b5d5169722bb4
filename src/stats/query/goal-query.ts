import { BadRequestException } from '@nestjs/common';

/**
 * The goal parts of a general query, taken out before the rest is parsed: the `goal` dimension,
 * filters on goal names (`["is" | "contains", "goal", names]`) and the behavioural filters
 * (`["has_done" | "has_not_done", "goal", names]`). Goals are named by their display names.
 */
export const GOAL_DIMENSION = 'goal';
export const GOAL_NAME_OPERATORS = ['is', 'contains'] as const;
export const BEHAVIOUR_OPERATORS = ['has_done', 'has_not_done'] as const;
export type GoalNameOperator = (typeof GOAL_NAME_OPERATORS)[number];
export type BehaviourOperator = (typeof BEHAVIOUR_OPERATORS)[number];

/** The metrics that only a goal query has (Plausible's conversion_rate, group_conversion_rate, total/average_revenue). */
export const CONVERSION_METRICS = ['conversionRate', 'groupConversionRate', 'revenueTotal', 'revenueAverage'] as const;
export type ConversionMetric = (typeof CONVERSION_METRICS)[number];
/** What a goal query can answer: conversions as `visitors` (unique) and `events` (total), and the above. */
export const GOAL_QUERY_METRICS: ReadonlySet<string> = new Set(['visitors', 'events', ...CONVERSION_METRICS]);

export interface GoalNameFilter {
  operator: GoalNameOperator;
  names: string[];
}

export interface BehaviourFilter {
  operator: BehaviourOperator;
  names: string[];
}

export interface GoalParts {
  byGoal: boolean;
  nameFilters: GoalNameFilter[];
  behaviours: BehaviourFilter[];
  /** The request's other dimensions and filters, for the ordinary parsers. */
  dimensions: unknown[];
  filters: unknown[] | undefined;
}

export function splitGoalParts(dimensions: unknown[] | undefined, filters: unknown): GoalParts {
  const others = (dimensions ?? []).filter((name) => name !== GOAL_DIMENSION);
  const parts: GoalParts = {
    byGoal: others.length !== (dimensions ?? []).length,
    nameFilters: [],
    behaviours: [],
    dimensions: others,
    filters: filters as unknown[] | undefined,
  };
  if (!Array.isArray(filters)) return parts;
  parts.filters = [];
  filters.forEach((item: unknown, index) => {
    if (!isGoalFilterItem(item)) return parts.filters!.push(item);
    const parsed = parseGoalFilter(item, `filters[${index}]`);
    if (parsed.kind === 'behaviour') parts.behaviours.push(parsed.filter);
    else parts.nameFilters.push(parsed.filter);
  });
  return parts;
}

/** Whether a filter given as data is about goals: on the `goal` dimension, or behavioural. */
export function isGoalFilterItem(item: unknown): boolean {
  if (!Array.isArray(item)) return false;
  return (
    (item.length === 3 && item[1] === GOAL_DIMENSION) || (BEHAVIOUR_OPERATORS as readonly unknown[]).includes(item[0])
  );
}

/** One goal filter given as data (`isGoalFilterItem`), checked; `name` names it in the 400. */
export function parseGoalFilter(
  item: unknown,
  name: string,
): { kind: 'name'; filter: GoalNameFilter } | { kind: 'behaviour'; filter: BehaviourFilter } {
  const [operator, dimension, rawValues] = item as [unknown, unknown, unknown];
  if (dimension !== GOAL_DIMENSION) throw new BadRequestException(`${name}: ${String(operator)} applies to goal only`);
  const values = (Array.isArray(rawValues) ? rawValues : [rawValues]) as unknown[];
  if (
    values.length === 0 ||
    values.length > 100 ||
    !values.every((value) => typeof value === 'string' && value.length <= 120)
  ) {
    throw new BadRequestException(`${name} values must be a list of 1 to 100 goal names`);
  }
  const names = values as string[];
  if ((BEHAVIOUR_OPERATORS as readonly unknown[]).includes(operator)) {
    return { kind: 'behaviour', filter: { operator: operator as BehaviourOperator, names } };
  }
  if ((GOAL_NAME_OPERATORS as readonly unknown[]).includes(operator)) {
    return { kind: 'name', filter: { operator: operator as GoalNameOperator, names } };
  }
  throw new BadRequestException(`${name} operator on goal must be one of: is, contains, has_done, has_not_done`);
}

/** Whether a goal name passes a name filter: `is` exactly, `contains` ignoring case (as `contains` does elsewhere). */
export function goalNamePasses(name: string, filter: { operator: GoalNameOperator; names: string[] }): boolean {
  if (filter.operator === 'is') return filter.names.includes(name);
  const folded = name.toLowerCase();
  return filter.names.some((value) => folded.includes(value.toLowerCase()));
}
