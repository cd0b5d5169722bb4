import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { measureCeiling, runFlood, runIngestScenarios } from './ingest-scenarios.js';
import { removeDataDir, startApp } from './lib/children.js';
import { runFreshStats } from './fresh-stats.js';
import { runGoalsBench, timeGoalsOnSeededPair } from './goals.js';
import { writePerformanceDoc } from './lib/performance-doc.js';
import { renderMarkdown, type BenchResults } from './report.js';
import { runStatsScale } from './stats-scale.js';
import { runAppCost, runSustained } from './sustained.js';

const ROOT = process.env.SITELINE_ROOT ?? process.cwd();
/**
 * BENCH_RESULTS_DIR: an exploratory run writes there and leaves bench/results and
 * docs/performance.md alone. A BENCH_FULL=1 run (stats scale at 10^6 hits) keeps its results in
 * bench/results/full/, beside the default run's, and docs/performance.md shows both.
 */
const only = new Set((process.env.BENCH_ONLY ?? 'ingest,flood,stats').split(','));
/**
 * Scenarios that are not in the default run keep their results in a directory of their own
 * (bench/results/<dir>/), whatever else runs beside them.
 */
const OWN_DIRECTORY = {
  freshstats: 'fresh-stats',
  sustained: 'sustained',
  appcost: 'appcost',
  goals: 'goals',
} as const;
const ownDirectory = (scenario: string): string | undefined =>
  (OWN_DIRECTORY as Record<string, string | undefined>)[scenario];
/** Nothing of the default run selected: bench/results/latest.json and docs/performance.md's first blocks stay as they are. */
const ownDirectoriesOnly = [...only].every((scenario) => ownDirectory(scenario) !== undefined);
const RESULTS =
  process.env.BENCH_RESULTS_DIR ?? join(ROOT, 'bench', 'results', ...(process.env.BENCH_FULL === '1' ? ['full'] : []));
const started = performance.now();
const log = (line: string): void =>
  console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`);

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  store: process.env.MONGODB_URI
    ? 'MongoDB (MONGODB_URI)'
    : "embedded store (in the app's worker thread; in a process of its own for flood, sustained and app cost)",
};
log(`machine: ${JSON.stringify(machine)}`);

const results: BenchResults = { startedAt: new Date().toISOString(), machine };
mkdirSync(RESULTS, { recursive: true });

if (only.has('ingest') || only.has('single') || only.has('flood')) {
  results.ceiling = await measureCeiling();
  log(`ceiling: ${results.ceiling.reqPerSec} req/s, p50 ${results.ceiling.p50Ms} ms, p99 ${results.ceiling.p99Ms} ms`);
}
if ((only.has('ingest') || only.has('single')) && results.ceiling) {
  const app = await startApp({ database: 'siteline_bench_ingest' });
  try {
    const { scenarios, statsUnderLoad } = await runIngestScenarios(app, results.ceiling, log);
    results.scenarios = scenarios;
    results.statsUnderLoad = statsUnderLoad;
  } finally {
    await app.stop();
    removeDataDir(app.dataDir);
  }
}
if (only.has('flood') && results.ceiling) results.flood = await runFlood(results.ceiling, log);
/**
 * With BENCH_FULL=1, goals beside stats run on the stats scale's seeded pair: seeding and rolling up 10^6 hits
 * takes most of an hour, once is enough. Their figures then stay with the full run's (bench/results/full/).
 */
const goalsOnStatsPair = only.has('stats') && only.has('goals') && process.env.BENCH_FULL === '1';
if (only.has('stats'))
  results.statsScale = await runStatsScale(
    log,
    goalsOnStatsPair
      ? async (pair) => {
          // The stats figures and the storage table are kept whatever happens to the goals part.
          try {
            results.goals = await timeGoalsOnSeededPair(pair, log);
          } catch (error) {
            log(`goals on the stats pair failed: ${error instanceof Error ? error.message : String(error)}`);
            process.exitCode = 1;
          }
        }
      : undefined,
  );
if (only.has('freshstats')) results.freshStats = await runFreshStats(log);
if (only.has('sustained')) results.sustained = await runSustained(log);
if (only.has('appcost')) results.appCost = await runAppCost(log);
if (only.has('goals') && !goalsOnStatsPair) results.goals = await runGoalsBench(log);

results.totalSeconds = Math.round((performance.now() - started) / 1000);
const stamp = results.startedAt.replace(/[:.]/g, '-');
function save(directory: string, run: BenchResults): void {
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, `run-${stamp}.json`), `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(directory, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(directory, 'latest.md'), renderMarkdown(run));
  log(`results → ${join(directory, 'latest.md')}`);
}
const parts = { freshstats: 'freshStats', sustained: 'sustained', appcost: 'appCost', goals: 'goals' } as const;
for (const [scenario, part] of Object.entries(parts)) {
  if (!only.has(scenario) || process.env.BENCH_RESULTS_DIR || (scenario === 'goals' && goalsOnStatsPair)) continue;
  const { machine: runMachine, startedAt, totalSeconds } = results;
  save(join(ROOT, 'bench', 'results', ownDirectory(scenario)!), {
    machine: runMachine,
    startedAt,
    totalSeconds,
    [part]: results[part],
  });
}
if (!ownDirectoriesOnly || process.env.BENCH_RESULTS_DIR) save(RESULTS, results);
log(`done in ${results.totalSeconds}s`);
if (!process.env.BENCH_RESULTS_DIR) log(await writePerformanceDoc(ROOT));
