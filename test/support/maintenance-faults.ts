import type { ObjectId } from 'mongodb';
import { HitsRepository } from '../../src/hits/hits.repository.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { FunnelRowsRepository } from '../../src/stats/rollups/funnel-rows.repository.js';
import { GoalRowsRepository } from '../../src/stats/rollups/goal-rows.repository.js';
import { RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { StatsRepository } from '../../src/stats/stats.repository.js';
import type { TestApp } from './test-app.js';

/**
 * What the stats-maintenance fault tests share: the derived rows of a site in a comparable form,
 * and a way to make a rollup run die at a chosen store call of one app instance.
 */

/**
 * The derived collections compared with a from-scratch build: `stats_visit_contributions` is what
 * each visit adds now; the goal rows are those of the site's goals, the funnel rows those of its
 * saved funnels.
 */
export const DERIVED_COLLECTIONS = [
  'stats_visit_contributions',
  'stats_visitor_days',
  'stats_visitor_sets',
  'stats_hit_hours',
  'stats_hit_days',
  'stats_visit_hours',
  'stats_visit_sources',
  'stats_visitor_counts',
  'stats_goal_members',
  'stats_goal_counts',
  'stats_goal_value_members',
  'stats_goal_value_counts',
  'stats_funnel_visits',
  'stats_funnel_visitors',
  'stats_funnel_counts',
];

/** Every derived row of the site, without ids and in a canonical order; count documents as their entries. */
export async function derivedRows(app: TestApp, siteId: ObjectId): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  for (const name of DERIVED_COLLECTIONS) {
    const documents = await app.database.db
      .collection(name)
      // `lastBatch` and `firstBatch` (`b` and `f` on the rows of RollupRepository.applyRowDeltas)
      // are bookkeeping (the last batch added to a row, the one that created it), not part of
      // what the row says.
      .find({ siteId }, { projection: { _id: 0, lastBatch: 0, firstBatch: 0, b: 0, f: 0 } })
      .toArray();
    const rows =
      name === 'stats_visitor_counts'
        ? documents.flatMap(({ rows: entries, ...unit }) =>
            (entries as Array<Record<string, unknown>>).map((entry) => ({ ...unit, ...entry })),
          )
        : documents;
    // A visit-hour row left without visits (every visit of it moved) says nothing; the job removes
    // them once a batch is done, and a run killed just before that leaves them for the next touch.
    // Likewise a funnel count whose visitors all moved to other days, or a visitor whose funnel
    // visits all went: kept so a replayed batch still finds its `lastBatch`, they say nothing.
    // The same for a visit-source row or an attribution count whose visits all moved to other values.
    const meaningful = rows.filter((row) =>
      name === 'stats_visit_hours' || name === 'stats_visit_sources'
        ? row.visits !== 0
        : name === 'stats_visitor_counts'
          ? row.events !== 0 || row.fresh !== 0 || (row.returning as unknown[]).length > 0
          : name === 'stats_funnel_counts'
            ? row.fresh !== 0 || (row.returning as unknown[]).length > 0
            : name === 'stats_funnel_visitors'
              ? (row.current as string[][]).some((days) => days.length > 0) || 'next' in row
              : true,
    );
    snapshot[name] = meaningful.map((row) => stableJson(row)).sort();
  }
  return snapshot;
}

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner) && !(inner instanceof Date)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : inner,
  );
}

/** Result rows (of the engine or of conversions) as sorted stable JSON: equal answers compare equal. */
export function canonical(rows: readonly object[]): string[] {
  return rows.map((row) => stableJson(row)).sort();
}

/** The store calls a rollup run makes, by the object that makes them: each one is a step a run can die at. */
function storeCalls(app: TestApp): Array<[object, string]> {
  return [
    [app.app.get(StatsRepository), 'aggregate'],
    ...['claimForRollup', 'findRollupBatch', 'releaseRollupBatch', 'markSiteForRollup'].map(
      (method): [object, string] => [app.app.get(HitsRepository), method],
    ),
    ...['claimVisitChanges', 'findClaimedVisitChanges', 'completeVisitChanges', 'markSiteVisitsChanged'].map(
      (method): [object, string] => [app.app.get(SessionsService), method],
    ),
    ...[
      'saveWatermark',
      'findVisitSnapshots',
      'findVisitContributions',
      'saveVisitSnapshots',
      'finalizeVisitSnapshots',
      'deleteEmptyVisitHours',
      'deleteSiteRows',
      'markSiteBuilt',
      'saveWeeksThrough',
      'replaceVisitorCounts',
      'findSiteState',
      'findWatermark',
      'findLastBatch',
      'nextBatch',
      'applyRowDeltas',
    ].map((method): [object, string] => [app.app.get(RollupRepository), method]),
    ...[
      'findReadyGoals',
      'upsertMembers',
      'findCreatedBy',
      'findHistories',
      'applyCountDeltas',
      'upsertValueMembers',
      'findValueCreatedBy',
      'findValueHistories',
      'applyValueCountDeltas',
      'replaceGoalRows',
      'deleteGoalRows',
      'deleteSite',
    ].map((method): [object, string] => [app.app.get(GoalRowsRepository), method]),
    ...[
      'findReadyFunnels',
      'findVisitsOf',
      'findVisitorVisits',
      'findVisitors',
      'recordFunnelVisitors',
      'findRecordedFunnelVisitors',
      'writeFunnelVisits',
      'applyFunnelCountDeltas',
      'finishFunnelVisitors',
      'replaceFunnelRows',
      'deleteFunnelRows',
      'deleteFunnelSite',
    ].map((method): [object, string] => [app.app.get(FunnelRowsRepository), method]),
  ];
}

/**
 * Makes `app`'s rollup run die at `step` from now on, as if the process died there: the `step`-th
 * store call, or with `method#n` the n-th call of that method (a kill point whose position varies
 * with the data). Returns how many calls were made and restores the repositories. A batch's write
 * to one derived collection, when it is the step, first writes the first half of its rows: the
 * process dies in the middle of a bulk write.
 */
export function killAt(app: TestApp, step: number | string): { calls: () => number; restore: () => void } {
  let calls = 0;
  let killedByName = false;
  let namedCalls = 0;
  const originals = storeCalls(app).map(([target, method]) => {
    const record = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = record[method];
    record[method] = async function (this: unknown, ...args: unknown[]) {
      calls += 1;
      if (method === String(step).split('#')[0]) namedCalls += 1;
      const killed = typeof step === 'number' ? calls === step : namedCalls === Number(step.split('#')[1] ?? 1);
      if (!killed || killedByName) return original.apply(this, args);
      killedByName = typeof step === 'string';
      if (method === 'applyRowDeltas') {
        const [collection, batch, deltas] = args as [string, number, unknown[]];
        await original.call(this, collection, batch, deltas.slice(0, Math.floor(deltas.length / 2)));
      }
      if (method === 'saveVisitSnapshots' || method === 'finalizeVisitSnapshots' || method === 'finishFunnelVisitors') {
        const [batch, rows] = args as [number, unknown[]];
        await original.call(this, batch, rows.slice(0, Math.floor(rows.length / 2)));
      }
      if (method === 'recordFunnelVisitors') {
        const [siteId, batch, rows] = args as [string, number, unknown[]];
        await original.call(this, siteId, batch, rows.slice(0, Math.floor(rows.length / 2)));
      }
      if (method === 'writeFunnelVisits') {
        const [siteId, rows] = args as [string, unknown[]];
        await original.call(this, siteId, rows.slice(0, Math.floor(rows.length / 2)), []);
      }
      if (method === 'applyFunnelCountDeltas') {
        const [siteId, batch, tallies] = args as [string, number, Array<{ tally: Map<string, unknown> }>];
        const half = tallies.map((entry) => ({
          ...entry,
          tally: new Map([...entry.tally].slice(0, Math.floor(entry.tally.size / 2))),
        }));
        await original.call(this, siteId, batch, half);
      }
      // The goal and value rows' bulk writes half done.
      if (method === 'applyCountDeltas' || method === 'applyValueCountDeltas') {
        const [siteId, batch, tally] = args as [string, number, Map<string, unknown>];
        await original.call(this, siteId, batch, new Map([...tally].slice(0, Math.floor(tally.size / 2))));
      }
      if (method === 'upsertMembers' || method === 'upsertValueMembers') {
        const [siteId, batch, memberships] = args as [string, number, unknown[]];
        await original.call(this, siteId, batch, memberships.slice(0, Math.floor(memberships.length / 2)));
      }
      throw new Error(`killed at step ${step}`);
    };
    return () => {
      record[method] = original;
    };
  });
  return { calls: () => calls, restore: () => originals.forEach((restore) => restore()) };
}

/**
 * Holds `app`'s rollup run at its `step`-th store call until `resume` is called: a stalled
 * instance (a long GC pause, a frozen VM) whose lease may expire meanwhile. `reached` settles
 * once the run is held there.
 */
export function stallAt(
  app: TestApp,
  step: number,
): { reached: Promise<void>; resume: () => void; restore: () => void } {
  let calls = 0;
  let resume!: () => void;
  const gate = new Promise<void>((resolve) => (resume = resolve));
  let reachedResolve!: () => void;
  const reached = new Promise<void>((resolve) => (reachedResolve = resolve));
  const originals = storeCalls(app).map(([target, method]) => {
    const record = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = record[method];
    record[method] = async function (this: unknown, ...args: unknown[]) {
      calls += 1;
      if (calls === step) {
        reachedResolve();
        await gate;
      }
      return original.apply(this, args);
    };
    return () => {
      record[method] = original;
    };
  });
  return { reached, resume, restore: () => originals.forEach((restore) => restore()) };
}
