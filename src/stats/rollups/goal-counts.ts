import { createHash } from 'node:crypto';

/**
 * Conversions as derived data (docs/goals.md, "How conversions are kept"): the pure part. A goal
 * is a counted value like a page or a source: per site, goal, classification and local day, the
 * converting visitors each on the day they converted, `fresh` (no earlier conversion day of that
 * goal) or `returning` from their previous conversion day `p`, with the day's converting hits
 * (`events`) and the revenue they carry per currency. Unique conversions over `[a, b]` are then
 * Σ over its days of `fresh` + the `n` with `p < a`, whatever the traffic: each converting visitor
 * has exactly one such day in the range (ADR 0003, "previous active day counts").
 */

/** Which visitor converted on which goal, under which classification, on which local day. */
export interface GoalMembership {
  goalId: string;
  classification: string;
  visitorKey: string;
  day: string;
}

/** What one count document (goal, classification, day) gains from a batch. */
export interface GoalCountDelta {
  goalId: string;
  classification: string;
  day: string;
  fresh: number;
  /** Previous conversion day → visitors moved in (positive) or out (negative). */
  returning: Map<string, number>;
  events: number;
  /** Currency → revenue sum and how many converting hits carried it. */
  revenue: Map<string, { sum: number; count: number }>;
}

export type GoalCountTally = Map<string, GoalCountDelta>;

/** The stored entry of one count document. */
export interface GoalCountEntry {
  fresh: number;
  returning: Array<{ p: string; n: number }>;
  events: number;
  revenue: Array<{ currency: string; sum: number; count: number }>;
}

const countKey = (goalId: string, classification: string, day: string) => `${goalId}|${classification}|${day}`;

function deltaOf(tally: GoalCountTally, goalId: string, classification: string, day: string): GoalCountDelta {
  const key = countKey(goalId, classification, day);
  let delta = tally.get(key);
  if (!delta) {
    delta = { goalId, classification, day, fresh: 0, returning: new Map(), events: 0, revenue: new Map() };
    tally.set(key, delta);
  }
  return delta;
}

/** One converting hit: its day's events, and its revenue when it carries some. */
export function addConversionHit(
  tally: GoalCountTally,
  membership: Omit<GoalMembership, 'visitorKey'>,
  revenue: { currency: string; amount: number } | null,
): void {
  const delta = deltaOf(tally, membership.goalId, membership.classification, membership.day);
  delta.events += 1;
  if (revenue) {
    const entry = delta.revenue.get(revenue.currency) ?? { sum: 0, count: 0 };
    entry.sum += revenue.amount;
    entry.count += 1;
    delta.revenue.set(revenue.currency, entry);
  }
}

/** Adds `sign` × the previous-day entries of one visitor's sorted conversion days. */
function addEntries(
  tally: GoalCountTally,
  goalId: string,
  classification: string,
  days: readonly string[],
  sign: 1 | -1,
  only?: ReadonlySet<string>,
): void {
  days.forEach((day, index) => {
    if (only && !only.has(day)) return;
    const delta = deltaOf(tally, goalId, classification, day);
    if (index === 0) delta.fresh += sign;
    else delta.returning.set(days[index - 1], (delta.returning.get(days[index - 1]) ?? 0) + sign);
  });
}

/**
 * The count deltas of one visitor's new conversion days on one goal: `history` is every day the
 * visitor converted on it (sorted or not, the new days included), `added` the days new to it.
 * Each new day gains the visitor, returning from the day before it (or fresh), and the next
 * existing day's entry moves from its old previous day to the new one. Only the days whose entry
 * changes are touched, so the cost is the history's length, not the traffic of its days.
 */
export function addMembershipDeltas(
  tally: GoalCountTally,
  goalId: string,
  classification: string,
  history: readonly string[],
  added: ReadonlySet<string>,
): void {
  if (added.size === 0) return;
  const after = [...new Set(history)].sort();
  const before = after.filter((day) => !added.has(day));
  // The entries that change: the new days, and each day right after a new one.
  const touched = new Set<string>();
  after.forEach((day, index) => {
    if (added.has(day)) {
      touched.add(day);
      const next = after.slice(index + 1).find((later) => !added.has(later));
      if (next !== undefined) touched.add(next);
    }
  });
  addEntries(tally, goalId, classification, before, -1, touched);
  addEntries(tally, goalId, classification, after, 1, touched);
}

/** Every count entry of the given memberships and converting hits, from nothing (a backfill). */
export function recountGoal(
  memberships: Iterable<GoalMembership>,
  hits: Iterable<{
    membership: Omit<GoalMembership, 'visitorKey'>;
    revenue: { currency: string; amount: number } | null;
  }>,
): GoalCountTally {
  const tally: GoalCountTally = new Map();
  const histories = new Map<string, { goalId: string; classification: string; days: string[] }>();
  for (const membership of memberships) {
    const key = `${membership.goalId}|${membership.classification}|${membership.visitorKey}`;
    const history = histories.get(key) ?? {
      goalId: membership.goalId,
      classification: membership.classification,
      days: [],
    };
    history.days.push(membership.day);
    histories.set(key, history);
  }
  for (const { goalId, classification, days } of histories.values())
    addEntries(tally, goalId, classification, [...new Set(days)].sort(), 1);
  for (const { membership, revenue } of hits) addConversionHit(tally, membership, revenue);
  return tally;
}

/**
 * Fresh and returning visitors (by previous day) with a delta added, as goal and funnel counts keep
 * them; returning entries left at zero go, as a recount would not list them.
 */
export function addVisitorDelta(
  entry: Pick<GoalCountEntry, 'fresh' | 'returning'> | undefined,
  delta: Pick<GoalCountDelta, 'fresh' | 'returning'>,
): Pick<GoalCountEntry, 'fresh' | 'returning'> {
  const returning = new Map((entry?.returning ?? []).map(({ p, n }) => [p, n]));
  for (const [p, n] of delta.returning) returning.set(p, (returning.get(p) ?? 0) + n);
  return {
    fresh: (entry?.fresh ?? 0) + delta.fresh,
    returning: [...returning]
      .filter(([, n]) => n !== 0)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, n]) => ({ p, n })),
  };
}

/** A count entry with a delta added (visitors as addVisitorDelta, conversions and revenue summed). */
export function addToEntry(entry: GoalCountEntry | undefined, delta: GoalCountDelta): GoalCountEntry {
  const revenue = new Map((entry?.revenue ?? []).map(({ currency, sum, count }) => [currency, { sum, count }]));
  for (const [currency, { sum, count }] of delta.revenue) {
    const known = revenue.get(currency) ?? { sum: 0, count: 0 };
    revenue.set(currency, { sum: known.sum + sum, count: known.count + count });
  }
  return {
    ...addVisitorDelta(entry, delta),
    events: (entry?.events ?? 0) + delta.events,
    revenue: [...revenue]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([currency, { sum, count }]) => ({ currency, sum, count })),
  };
}

/** Unique conversions of `[fromDay, …]` from the count entries of its days: Σ fresh + Σ n with p < fromDay. */
export function uniqueConversions(entries: Iterable<GoalCountEntry>, fromDay: string): number {
  let visitors = 0;
  for (const entry of entries) {
    visitors += entry.fresh;
    for (const { p, n } of entry.returning) if (p < fromDay) visitors += n;
  }
  return visitors;
}

/** The `_id` of a membership or count document: a digest of its key, so a replay meets the same documents. */
export function goalRowId(kind: 'member' | 'count', siteId: string, fields: readonly string[]): string {
  return createHash('sha1')
    .update(JSON.stringify([kind, siteId, ...fields]))
    .digest('base64');
}
