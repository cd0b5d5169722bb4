import { PAGEVIEW } from '../hits/hit.schema.js';

/**
 * What a goal matches, and nothing else: the one definition both the MongoDB expression (every
 * conversion and funnel query) and the plain-TypeScript matcher (tests, brute-force checks) come
 * from. A page goal matches page views (`name` = `pageview`) whose path matches its pattern; an
 * event goal matches hits with its event name and, when it has one, the property `key` = `value`
 * (compared as text, as the `prop:<key>` filters of the stats query do).
 */
export type GoalDefinition =
  | { kind: 'page'; pagePath: string }
  | { kind: 'event'; eventName: string; property: { key: string; value: string } | null };

/** The hit fields a goal looks at. */
export interface GoalMatchableHit {
  name: string;
  path: string;
  props?: Record<string, string | number | boolean> | null;
}

/**
 * A page-path pattern as an anchored regular expression: `*` stands for any run of characters
 * (slashes included, as in Plausible, where `*` and `**` mean the same), everything else is
 * literal and case-sensitive. `/blog/*` matches `/blog/a` and `/blog/a/b`, not `/blog`.
 */
export function pagePathRegex(pattern: string): string {
  const literal = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return `^${literal.join('.*')}$`;
}

/** A property value as the stats query compares it: its text; a missing property is null. */
function propertyText(value: string | number | boolean | undefined | null): string | null {
  return value === undefined || value === null ? null : String(value);
}

/**
 * The goal as an aggregation expression over a hit (`$name`, `$path`, `$props.<key>`): usable in
 * `$match: { $expr }`, `$cond` and `$filter`. Goal fields are validated at creation (the property
 * key cannot start with `$` or hold a `.`), and values only ever appear as literals.
 */
export function goalMatchExpression(goal: GoalDefinition): Record<string, unknown> {
  if (goal.kind === 'page') {
    const path = goal.pagePath.includes('*')
      ? { $regexMatch: { input: '$path', regex: pagePathRegex(goal.pagePath) } }
      : { $eq: ['$path', { $literal: goal.pagePath }] };
    return { $and: [{ $eq: ['$name', PAGEVIEW] }, path] };
  }
  const name = { $eq: ['$name', { $literal: goal.eventName }] };
  if (!goal.property) return name;
  const text = { $toString: `$props.${goal.property.key}` };
  return { $and: [name, { $eq: [text, { $literal: goal.property.value }] }] };
}

/**
 * A query-language condition every hit completing `goal` meets (the name, and a page goal's
 * path): put before `goalMatchExpression` so the store drops most hits without evaluating an
 * expression on each. A property is left to the expression (it compares text, whatever the
 * stored type), so this may let through hits the expression then refuses, never the reverse.
 */
export function goalPrefilter(goal: GoalDefinition): Record<string, unknown> {
  if (goal.kind === 'event') return { name: goal.eventName };
  const path = goal.pagePath.includes('*') ? { $regex: pagePathRegex(goal.pagePath) } : goal.pagePath;
  return { name: PAGEVIEW, path };
}

/** Whether `hit` completes `goal`: the same rule as `goalMatchExpression`, in plain TypeScript. */
export function goalMatchesHit(goal: GoalDefinition, hit: GoalMatchableHit): boolean {
  if (goal.kind === 'page') {
    if (hit.name !== PAGEVIEW) return false;
    return goal.pagePath.includes('*')
      ? new RegExp(pagePathRegex(goal.pagePath)).test(hit.path)
      : hit.path === goal.pagePath;
  }
  if (hit.name !== goal.eventName) return false;
  if (!goal.property) return true;
  return propertyText(hit.props?.[goal.property.key]) === goal.property.value;
}
