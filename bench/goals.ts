import { adminToken, createSite, type BenchSite } from './lib/api.js';
import { removeDataDir, type Child } from './lib/children.js';
import { seed, seedingEnded, startStatsApp, waitForRollup, type SeedResult } from './stats-scale.js';

const DAY_MS = 86_400_000;
const RUNS = 7;
const SMALL_HITS = Number(process.env.BENCH_GOALS_SMALL_HITS ?? 10_000);
/**
 * The larger site: 10^5 hits by default (fits a few minutes); with BENCH_FULL=1, as for the stats
 * scale, the 10^6 (seeding it, sessionizing it and backfilling the goal and funnel rows
 * take far longer than the default size: give BENCH_ROLLUP_WAIT_MINUTES room); BENCH_GOALS_LARGE_HITS sets it exactly.
 */
const LARGE_HITS = Number(process.env.BENCH_GOALS_LARGE_HITS ?? (process.env.BENCH_FULL === '1' ? 1_000_000 : 100_000));
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

/**
 * "Goals" (`BENCH_ONLY=goals`): conversion and funnel queries over 30 days on a site of SMALL_HITS hits and
 * one of LARGE_HITS (default 10^4 and 10^5, 10^6 with BENCH_FULL=1: the target compares 10^6 with 10^4), the
 * same traffic shape as the stats scale, each with the same two page goals and a saved funnel of them. Median of RUNS calls
 * after a warm-up, alternating between the sites; the ratio large ÷ small is reported.
 */
export async function runGoalsBench(log: (line: string) => void): Promise<GoalsBenchResult> {
  const app = await startStatsApp('siteline_bench_goals');
  try {
    const token = await adminToken(app.url);
    const sites: Array<BenchSite & { funnelId: string }> = [];
    const seeding: SeedResult[] = [];
    for (const [index, hits] of [SMALL_HITS, LARGE_HITS].entries()) {
      const site = await createSite(app.url, token, `goals-${index}.bench.test`);
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
      const funnelId = ((await funnel.json()) as { id: string }).id;
      const seeded = await seed(app, site, hits, 401 + index);
      log(`goals: seeded ${hits} hits of ${seeded.visitors} visitors in ${Math.round(seeded.seconds)}s`);
      sites.push({ ...site, funnelId });
      seeding.push(seeded);
    }
    const rollup = await waitForRollup(app, seedingEnded(seeding[1]));
    log(
      rollup ? `goals: rollup covered the hits after ${rollup.seconds}s` : 'goals: rollup not caught up: timing anyway',
    );
    const timings: GoalQueryTiming[] = [];
    for (const [name, body] of queries()) {
      for (const site of sites) await timedQuery(app, site, body);
      const times: [number[], number[]] = [[], []];
      for (let run = 0; run < RUNS; run++)
        for (const side of [0, 1] as const) times[side].push(await timedQuery(app, sites[side], body));
      const median = (values: number[]) =>
        Math.round([...values].sort((a, b) => a - b)[Math.floor(RUNS / 2)] * 10) / 10;
      const [small, large] = [median(times[0]), median(times[1])];
      const timing = { query: name, small, large, ratio: Math.round((large / Math.max(small, 0.1)) * 10) / 10 };
      timings.push(timing);
      log(`goals: ${name}: ${small} ms at ${SMALL_HITS}, ${large} ms at ${LARGE_HITS} (×${timing.ratio})`);
    }
    return {
      smallHits: SMALL_HITS,
      largeHits: LARGE_HITS,
      runs: RUNS,
      seeding,
      rollupCaughtUpSeconds: rollup?.seconds ?? null,
      queries: timings,
    };
  } finally {
    await app.stop();
    removeDataDir(app.dataDir);
  }
}
