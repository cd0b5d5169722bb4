import { PAGEVIEW } from '../ingestion/schemas/hit.schema.js';

/**
 * What a funnel step matches, in the shape of a goal (the goals module's `GoalDefinition`): a
 * page step matches page views (`name` = `pageview`) whose path matches its pattern; an event
 * step matches hits with its event name and, when it has one, the property `key` = `value`
 * (compared as text, as the `prop:<key>` filters of the stats query do). Steps are stored with
 * the funnel (see docs/funnels.md on why they are not goal ids yet).
 */
export type FunnelStepMatch =
  | { kind: 'page'; pagePath: string }
  | { kind: 'event'; eventName: string; property: { key: string; value: string } | null };

/**
 * A page-path pattern as an anchored regular expression: `*` stands for any run of characters
 * (slashes included, as in Plausible's goals), everything else is literal and case-sensitive.
 * `/blog/*` matches `/blog/a` and `/blog/a/b`, not `/blog`.
 */
export function pagePathRegex(pattern: string): string {
  const literal = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return `^${literal.join('.*')}$`;
}

/**
 * The step as an aggregation expression over a hit (`$name`, `$path`, `$props.<key>`), for
 * `$match: { $expr }` and `$cond`. Property keys are validated on save (no leading `$`, no `.`)
 * and values only ever appear as literals, so nothing stored can become an operator.
 */
export function stepMatchExpression(step: FunnelStepMatch): Record<string, unknown> {
  if (step.kind === 'page') {
    const path = step.pagePath.includes('*')
      ? { $regexMatch: { input: '$path', regex: pagePathRegex(step.pagePath) } }
      : { $eq: ['$path', { $literal: step.pagePath }] };
    return { $and: [{ $eq: ['$name', PAGEVIEW] }, path] };
  }
  const name = { $eq: ['$name', { $literal: step.eventName }] };
  if (!step.property) return name;
  const text = { $toString: `$props.${step.property.key}` };
  return { $and: [name, { $eq: [text, { $literal: step.property.value }] }] };
}

/** The label a step gets when none is given: the event name, or `Visit <path>` (as Plausible names goals). */
export function defaultStepLabel(step: FunnelStepMatch): string {
  if (step.kind === 'page') return `Visit ${step.pagePath}`;
  return step.property ? `${step.eventName} (${step.property.key}=${step.property.value})` : step.eventName;
}
