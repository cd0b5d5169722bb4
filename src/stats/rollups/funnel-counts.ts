import { goalMatchesHit, type GoalDefinition, type GoalMatchableHit } from '../../goals/goal-matching.js';
import { addVisitorDelta } from './goal-counts.js';

/**
 * The pure part of the funnel rows (docs/funnels.md, "Performance"): how deep a visit goes, what
 * a visitor's funnel visits add to the per-day counts, and a range's visitors per step from them.
 */

/** A hit as a funnel walk reads it: in time order, ties by insertion order (`id`, the hex ObjectId). */
export interface FunnelWalkHit extends GoalMatchableHit {
  id: string;
  ts: Date;
}

/**
 * The deepest step a visit's hits reach in order (the raw pipeline's walk, funnel.pipeline.ts):
 * the level rises from k to k+1 at the first later hit completing step k+1; a hit completes at
 * most one step.
 */
export function funnelLevel(steps: readonly GoalDefinition[], hits: readonly FunnelWalkHit[]): number {
  const ordered = [...hits].sort((a, b) => a.ts.getTime() - b.ts.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let level = 0;
  for (const hit of ordered) if (level < steps.length && goalMatchesHit(steps[level], hit)) level++;
  return level;
}

/** Per step (index 0 = step 1), the sorted local days on which one of the visitor's visits starting then reached it. */
export type StepDays = string[][];

/** A visitor's step days from their funnel visits (level ≥ 1, on the local day each visit starts). */
export function stepDaysOf(visits: ReadonlyArray<{ day: string; level: number }>, stepCount: number): StepDays {
  return Array.from({ length: stepCount }, (_, index) =>
    [...new Set(visits.filter((visit) => visit.level > index).map((visit) => visit.day))].sort(),
  );
}

/** What a batch adds to one count document (site, funnel, classification, step, day). */
export interface FunnelCountDelta {
  step: number;
  day: string;
  fresh: number;
  returning: Map<string, number>;
}

/** A batch's count deltas of one funnel and classification, by `step|day`. */
export type FunnelCountTally = Map<string, FunnelCountDelta>;

/** A stored count entry: visitors on their first day at the step, and per previous day at it. */
export interface FunnelCountEntry {
  fresh: number;
  returning: Array<{ p: string; n: number }>;
}

function add(tally: FunnelCountTally, step: number, day: string, previous: string | undefined, sign: number): void {
  const key = `${step}|${day}`;
  const delta = tally.get(key) ?? { step, day, fresh: 0, returning: new Map<string, number>() };
  if (previous === undefined) delta.fresh += sign;
  else delta.returning.set(previous, (delta.returning.get(previous) ?? 0) + sign);
  tally.set(key, delta);
}

/**
 * A visitor's step days going from `current` to `next`: each day counts the visitor, `fresh`
 * on their first day at the step and else returning from the day before it; so the new days
 * go in and the old ones out. Applied to every visitor of a funnel, the counts are exactly the
 * contributions of their current step days.
 */
export function addVisitorChange(tally: FunnelCountTally, current: StepDays, next: StepDays): void {
  const contribute = (stepDays: StepDays, sign: number) =>
    stepDays.forEach((days, index) =>
      days.forEach((day, position) =>
        add(tally, index + 1, day, position === 0 ? undefined : days[position - 1], sign),
      ),
    );
  contribute(next, 1);
  contribute(current, -1);
}

/** A count entry plus a delta, as the goal counts add theirs (returning entries that come to 0 are dropped). */
export function addToFunnelEntry(entry: FunnelCountEntry | undefined, delta: FunnelCountDelta): FunnelCountEntry {
  return addVisitorDelta(entry, delta);
}

/**
 * Visitors reaching each step (index 0 = step 1) over the days `[fromDay, …]` the entries cover:
 * a visitor at a step on several of those days counts on the first of them only, the one whose
 * previous day at the step is before `fromDay` (or has none).
 */
export function visitorsReached(
  entries: Iterable<FunnelCountEntry & { step: number }>,
  fromDay: string,
  stepCount: number,
): number[] {
  const reached = Array.from({ length: stepCount }, () => 0);
  for (const entry of entries) {
    if (entry.step < 1 || entry.step > stepCount) continue;
    reached[entry.step - 1] += entry.fresh;
    for (const { p, n } of entry.returning) if (p < fromDay) reached[entry.step - 1] += n;
  }
  return reached;
}

/** A funnel visit as the read correction sees it. */
export interface FunnelVisitLevel {
  visitId: string;
  visitorKey: string;
  level: number;
}

/**
 * The counts of a range count each visit starting in it at its whole level; a visit crossing the
 * range's first midnight is missing from them and one crossing its last counts hits after the
 * range. For the visitors of those boundary visits: take out what the counts gave them (their
 * visits starting in the range, `counted`) and put in what they reach in the range — their
 * other visits starting in it, and the boundary visits at the level of their hits inside the
 * range (`boundary`, evaluated raw).
 */
export function correctBoundaries(
  reached: readonly number[],
  counted: readonly FunnelVisitLevel[],
  boundary: readonly FunnelVisitLevel[],
): number[] {
  const boundaryIds = new Set(boundary.map((visit) => visit.visitId));
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  for (const visit of boundary) after.set(visit.visitorKey, Math.max(after.get(visit.visitorKey) ?? 0, visit.level));
  for (const visit of counted) {
    before.set(visit.visitorKey, Math.max(before.get(visit.visitorKey) ?? 0, visit.level));
    if (!boundaryIds.has(visit.visitId))
      after.set(visit.visitorKey, Math.max(after.get(visit.visitorKey) ?? 0, visit.level));
  }
  return reached.map((visitors, index) => {
    let corrected = visitors;
    for (const level of before.values()) if (level > index) corrected--;
    for (const level of after.values()) if (level > index) corrected++;
    return corrected;
  });
}

/** Visitors per deepest level (what funnelStepFigures reads) from visitors per step reached. */
export function visitorsByLevel(reached: readonly number[]): Map<number, number> {
  return new Map(reached.map((visitors, index) => [index + 1, visitors - (reached[index + 1] ?? 0)]));
}
