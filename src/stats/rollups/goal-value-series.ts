import { DIMENSION_SOURCES, type Dimension, type QueryDimension } from '../query/dimensions.js';

/**
 * The goal value rows (docs/goals.md, "Breakdowns by goal"): a goal's conversions split by one
 * hit-level dimension. Each (goal, dimension, value) is a series counted exactly as a goal is
 * (goal-counts.ts): the pure functions take the series' key where they take a goal id.
 *
 * The dimensions are those of the dashboard's panels that a converting hit carries itself — its
 * page, country, browser, operating system and device — so a late hit merging or splitting
 * visits changes nothing but its own conversion, as for the goal rows. Visit-level dimensions
 * (source, referrer, UTM, entry and exit page) change when visits merge and are read raw.
 */
export const GOAL_VALUE_DIMENSIONS = [
  'page',
  'country',
  'browser',
  'os',
  'device',
] as const satisfies readonly Dimension[];
export type GoalValueDimension = (typeof GOAL_VALUE_DIMENSIONS)[number];

export function isGoalValueDimension(dimension: QueryDimension): dimension is GoalValueDimension {
  return (GOAL_VALUE_DIMENSIONS as readonly string[]).includes(dimension);
}

/** Whether value rows built for `dimensions` (a goal state's) are those of GOAL_VALUE_DIMENSIONS now. */
export function coversGoalValueDimensions(dimensions: readonly string[]): boolean {
  return dimensions.join(',') === GOAL_VALUE_DIMENSIONS.join(',');
}

/** One goal's conversions of one value of one dimension. */
export interface GoalValueSeries {
  goalId: string;
  dimension: GoalValueDimension;
  value: string | null;
}

/** The series as one string (what goal-counts.ts keys a goal by), and back. */
export function goalValueSeriesKey(series: GoalValueSeries): string {
  return JSON.stringify([series.goalId, series.dimension, series.value]);
}

export function parseGoalValueSeriesKey(key: string): GoalValueSeries {
  const [goalId, dimension, value] = JSON.parse(key) as [string, GoalValueDimension, string | null];
  return { goalId, dimension, value };
}

/** A hit's value of the dimension, as a breakdown groups it (a missing field is null). */
export function hitValue(hit: Readonly<Record<string, unknown>>, dimension: GoalValueDimension): string | null {
  const value = hit[DIMENSION_SOURCES[dimension].field];
  return typeof value === 'string' ? value : null;
}

/** The hit fields the value rows read. */
export const GOAL_VALUE_FIELDS = GOAL_VALUE_DIMENSIONS.map((dimension) => DIMENSION_SOURCES[dimension].field);
