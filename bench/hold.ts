import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, createSite } from './lib/api.js';
import { removeDataDir } from './lib/children.js';
import { seed, seedingEnded, startStatsApp, waitForRollup } from './stats-scale.js';

/**
 * `npm run bench -- hold [hits]`: the stats scale's two sites (10^4 hits and `hits`, default
 * 10^6) seeded the same way, then, once the rollup job has covered them, the app's URL, pid and
 * keys in test-output/hold.json, and the app kept running until Ctrl-C. For looking into one
 * query at that size: time it with the read key, or open the inspector (`kill -USR1 <pid>`) and
 * profile the main thread or the store's worker thread. Seeding 10^6 hits takes ~20 minutes here.
 */
const ROOT = process.env.SITELINE_ROOT ?? process.cwd();
const hits = Number(process.argv[2] ?? 1_000_000);
const app = await startStatsApp('siteline_bench_hold');
const token = await adminToken(app.url);
const small = await createSite(app.url, token, 'small.bench.test');
const large = await createSite(app.url, token, 'large.bench.test');
console.log('10^4 site:', JSON.stringify(await seed(app, small, 10_000, 101)));
const largeSeed = await seed(app, large, hits, 202);
console.log(`${hits}-hit site:`, JSON.stringify(largeSeed));
const rollup = await waitForRollup(app, seedingEnded(largeSeed));
console.log(
  rollup ? rollup.run : 'the rollup job has not covered the seeded hits yet: reads of those days use raw hits',
);
const outDir = join(ROOT, 'test-output');
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, 'hold.json'),
  `${JSON.stringify({ url: app.url, pid: app.pid, dataDir: app.dataDir, small, large }, null, 2)}\n`,
);
console.log(`holding ${app.url} (pid ${app.pid}); sites and keys in test-output/hold.json; Ctrl-C stops the app`);
const stop = (): void => {
  void app.stop().then(() => {
    removeDataDir(app.dataDir);
    process.exit(0);
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setInterval(() => undefined, 60_000);
