import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, createSite } from './lib/api.js';
import { removeDataDir, startApp } from './lib/children.js';
import { selfTimeByArea, topSelfTime } from './lib/cpuprofile.js';
import { singleBodies, VISITORS } from './ingest-scenarios.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { seed, type SeedResult } from './stats-scale.js';

/**
 * `npm run bench -- profile [seed]`: the single-hit scenario (or seeding 10^4 hits in batches
 * until the stats answer: ingest plus sessionizer) against an app started with --cpu-prof;
 * prints the top self-time functions of the main thread and of the store's worker thread and
 * writes them to bench/results/profile-<scenario>.json (or BENCH_RESULTS_DIR).
 */
const ROOT = process.env.SITELINE_ROOT ?? process.cwd();
const dir = join(ROOT, 'test-output', 'profiles');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const app = await startApp({ nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
const scenario = process.argv[2] ?? 'single';
let load: LoadResult | SeedResult;
try {
  const token = await adminToken(app.url);
  const site = await createSite(app.url, token, 'profile.bench.test');
  if (scenario === 'seed') load = await seed(app, site, Number(process.env.BENCH_SEED_HITS ?? 10_000), 101);
  else load = await single(app.url, app.pid, site.ingestKey);
} finally {
  await app.stop();
  removeDataDir(app.dataDir);
}

async function single(url: string, pid: number, key: string): Promise<LoadResult> {
  return runLoad(
    {
      name: 'single hit (profiled)',
      url,
      path: '/api/v1/hits',
      headers: { authorization: key },
      // The same traffic as the bench's single-hit scenario.
      bodies: singleBodies(VISITORS),
      connections: 32,
      seconds: Number(process.env.BENCH_SECONDS ?? 10),
      warmupSeconds: 2,
    },
    pid,
  );
}
console.log(JSON.stringify(load));
const profiles = readdirSync(dir)
  .filter((name) => name.endsWith('.cpuprofile'))
  .map((name) => join(dir, name))
  .sort((a, b) => statSync(b).size - statSync(a).size);
const summary = profiles.map((path) => ({ file: path, ...topSelfTime(path), areas: selfTimeByArea(path) }));
for (const { file, totalMs, idlePercent, functions, areas } of summary) {
  console.log(`\n${file}: ${totalMs} ms sampled, idle ${idlePercent}%`);
  console.log(areas.map((a) => `${a.area} ${a.percent}%`).join(' | '));
  for (const f of functions)
    console.log(`${String(f.selfPercent).padStart(5)}%  ${String(f.selfMs).padStart(6)} ms  ${f.name}  ${f.location}`);
}
writeFileSync(
  join(process.env.BENCH_RESULTS_DIR ?? join(ROOT, 'bench', 'results'), `profile-${scenario}.json`),
  `${JSON.stringify({ load, summary }, null, 2)}\n`,
);
