import { adminToken, createSite, type BenchSite } from './lib/api.js';
import { removeDataDir, waitForOutput, type Child } from './lib/children.js';
import { seed, seedingEnded, startStatsApp, waitForRollup, type SeedResult } from './stats-scale.js';

const DAY_MS = 86_400_000;
const RUNS = 7;
const SMALL_HITS = Number(process.env.BENCH_GOALS_SMALL_HITS ?? 10_000);
/** The larger site: 10^5 hits by default (fits a few minutes); BENCH_GOALS_LARGE_HITS sets it exactly. */
const LARGE_HITS = Number(process.env.BENCH_GOALS_LARGE_HITS ?? 100_000);
/** How long to wait for the goal and funnel backfill before timing anyway (minutes at 10^6 hits). */
const BACKFILL_WAIT_LIMIT_MS = Number(process.env.BENCH_ROLLUP_WAIT_MINUTES ?? 8) * 60_000;
/** Page goals on the generated traffic's paths (`/section-<n>/page-<m>`): a wildcard one and an exact one. */
const GOALS = [{ pagePath: '/section-3/*' }, { pagePath: '/' }];
/** A saved funnel over those goals: the home page, then a page of section 3. */
const FUNNEL_STEPS = ['/', '/section-3/*'];

export interface GoalQueryTiming {
  query: string;
  small: number;
  large: number;
  ratio: number;
}

export interface GoalsBenchResult {
  smallHits: number;
  largeHits: number;
  runs: number;
  seeding: SeedResult[];
  rollupCaughtUpSeconds: number | null;
  /** Seconds from creating the goals and funnels on the seeded sites until their past data was counted (absent in older runs). */
  backfillSeconds?: number | null;
  queries: GoalQueryTiming[];
}

const day = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);

/** A timed read: a stats query body (POST /api/v1/stats/query), or the saved funnel's figures. */
type TimedRead = Record<string, unknown> | 'funnel';

/** The conversion and funnel queries timed: 30 days, per goal with rates, a breakdown filtered by a goal, has_done, the funnel. */
function queries(): Array<[string, TimedRead]> {
  const dateRange = { from: day(29), to: day(0) };
  return [
    [
      'goal breakdown + conversion rate',
      { dateRange, dimensions: ['goal'], metrics: ['visitors', 'events', 'conversionRate'] },
    ],
    [
      'country breakdown filtered by a goal + group rate',
      {
        dateRange,
        dimensions: ['country'],
        filters: [['is', 'goal', ['Visit /section-3/*']]],
        metrics: ['visitors', 'events', 'groupConversionRate'],
      },
    ],
    [
      'visitors who has_done a goal',
      { dateRange, filters: [['has_done', 'goal', ['Visit /']]], metrics: ['visitors', 'pageviews'] },
    ],
    ['saved funnel (2 steps)', 'funnel'],
  ];
}

async function timedQuery(app: Child, site: BenchSite & { funnelId: string }, read: TimedRead): Promise<number> {
  const started = performance.now();
  const range = new URLSearchParams({ siteId: site.id, funnelId: site.funnelId, from: day(29), to: day(0) });
  const response =
    read === 'funnel'
      ? await fetch(`${app.url}/api/v1/stats/funnel?${range.toString()}`, { headers: { authorization: site.readKey } })
      : await fetch(`${app.url}/api/v1/stats/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: site.readKey },
          body: JSON.stringify({ siteId: site.id, ...read }),
        });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`goal read: ${response.status} ${text}`);
  return performance.now() - started;
}

/** Two sites already seeded on one app (the stats scale hands its pair over in a BENCH_FULL run). */
export interface SeededPair {
  app: Child;
  sites: [BenchSite, BenchSite];
  hits: [number, number];
  seeding: SeedResult[];
  /** Seconds from the end of seeding until the rollups covered it (null: not within the wait). */
  rollupCaughtUpSeconds: number | null;
}

/** The goals, then the saved funnel of them, on one site; returns the funnel's id. */
async function createGoalsAndFunnel(app: Child, token: string, site: BenchSite): Promise<string> {
  const goalIds = new Map<string, string>();
  for (const goal of GOALS) {
    const created = await fetch(`${app.url}/api/v1/sites/${site.id}/goals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(goal),
    });
    if (created.status !== 201) throw new Error(`creating a goal: ${created.status} ${await created.text()}`);
    goalIds.set(goal.pagePath, ((await created.json()) as { id: string }).id);
  }
  const funnel = await fetch(`${app.url}/api/v1/sites/${site.id}/funnels`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'Home to section 3', goalIds: FUNNEL_STEPS.map((path) => goalIds.get(path)) }),
  });
  if (funnel.status !== 201) throw new Error(`creating a funnel: ${funnel.status} ${await funnel.text()}`);
  return ((await funnel.json()) as { id: string }).id;
}

/**
 * Waits until the rollup job has logged the backfill of every funnel in `funnelIds` (FunnelRowsBuilder:
 * "Counted funnel <id> …"; a run counts its new goals before its new funnels); the seconds waited, or null at the limit.
 */
function waitForBackfill(app: Child, funnelIds: string[], since: number): Promise<number | null> {
  return waitForOutput(
    app,
    (output) =>
      funnelIds.every((id) => output.includes(`Counted funnel ${id} `))
        ? Math.round((performance.now() - since) / 1000)
        : undefined,
    BACKFILL_WAIT_LIMIT_MS,
  );
}

/**
 * The goals part on a pair of seeded, rolled-up sites: creates the same two page goals and a saved funnel of them
 * on each (a goal counts past data: the rollup job backfills its rows), waits for the backfill, then times
 * the conversion and funnel queries, median of RUNS calls after a warm-up, alternating between the sites;
 * the ratio large ÷ small is reported.
 */
export async function timeGoalsOnSeededPair(pair: SeededPair, log: (line: string) => void): Promise<GoalsBenchResult> {
  const { app } = pair;
  // A new admin token: the one the seeding began with has expired after a 10^6-hit rollup wait.
  const token = await adminToken(app.url);
  const created = performance.now();
  const sites: Array<BenchSite & { funnelId: string }> = [];
  for (const site of pair.sites) sites.push({ ...site, funnelId: await createGoalsAndFunnel(app, token, site) });
  const backfillSeconds = await waitForBackfill(
    app,
    sites.map((site) => site.funnelId),
    created,
  );
  log(
    backfillSeconds === null
      ? 'goals: past conversions not counted within the wait: timing anyway'
      : `goals: past conversions and funnel visits counted ${backfillSeconds}s after the goals were created`,
  );
  const timings: GoalQueryTiming[] = [];
  for (const [name, body] of queries()) {
    for (const site of sites) await timedQuery(app, site, body);
    const times: [number[], number[]] = [[], []];
    for (let run = 0; run < RUNS; run++)
      for (const side of [0, 1] as const) times[side].push(await timedQuery(app, sites[side], body));
    const median = (values: number[]) => Math.round([...values].sort((a, b) => a - b)[Math.floor(RUNS / 2)] * 10) / 10;
    const [small, large] = [median(times[0]), median(times[1])];
    const timing = { query: name, small, large, ratio: Math.round((large / Math.max(small, 0.1)) * 10) / 10 };
    timings.push(timing);
    log(`goals: ${name}: ${small} ms at ${pair.hits[0]}, ${large} ms at ${pair.hits[1]} (×${timing.ratio})`);
  }
  return {
    smallHits: pair.hits[0],
    largeHits: pair.hits[1],
    runs: RUNS,
    seeding: pair.seeding,
    rollupCaughtUpSeconds: pair.rollupCaughtUpSeconds,
    backfillSeconds,
    queries: timings,
  };
}

/**
 * "Goals" (`BENCH_ONLY=goals`): a site of SMALL_HITS hits and one of LARGE_HITS (default 10^4 and 10^5), the
 * same traffic shape as the stats scale, seeded and rolled up, then timeGoalsOnSeededPair. At 10^6 (the issue's
 * target compares 10^6 with 10^4) the goals run on the stats scale's own pair instead: `BENCH_FULL=1
 * BENCH_ONLY=stats,goals` seeds once for both (bench/run.ts).
 */
export async function runGoalsBench(log: (line: string) => void): Promise<GoalsBenchResult> {
  const app = await startStatsApp('siteline_bench_goals');
  try {
    const token = await adminToken(app.url);
    const sites: BenchSite[] = [];
    const seeding: SeedResult[] = [];
    for (const [index, hits] of [SMALL_HITS, LARGE_HITS].entries()) {
      const site = await createSite(app.url, token, `goals-${index}.bench.test`);
      const seeded = await seed(app, site, hits, 401 + index);
      log(`goals: seeded ${hits} hits of ${seeded.visitors} visitors in ${Math.round(seeded.seconds)}s`);
      sites.push(site);
      seeding.push(seeded);
    }
    const rollup = await waitForRollup(app, seedingEnded(seeding[1]));
    log(
      rollup ? `goals: rollup covered the hits after ${rollup.seconds}s` : 'goals: rollup not caught up: timing anyway',
    );
    return await timeGoalsOnSeededPair(
      {
        app,
        sites: [sites[0], sites[1]],
        hits: [SMALL_HITS, LARGE_HITS],
        seeding,
        rollupCaughtUpSeconds: rollup?.seconds ?? null,
      },
      log,
    );
  } finally {
    await app.stop();
    removeDataDir(app.dataDir);
  }
}
