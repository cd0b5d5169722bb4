import { adminToken, createSite, type BenchSite } from './lib/api.js';
import { removeDataDir, type Child } from './lib/children.js';
import { footprint, type CollectionFootprint } from './lib/stored-hits.js';
import { VisitorTraffic } from './lib/visitor-traffic.js';
import { startStatsApp, waitForRollup } from './stats-scale.js';

const DAY_MS = 86_400_000;
const BATCH = 500;
const SEED_CONCURRENCY = 4;
/** The day sizes the issue measured: a small site's day and a big site's day. */
const SMALL_DAY_HITS = Number(process.env.BENCH_FRESH_SMALL_HITS ?? 5_000);
const BIG_DAY_HITS = Number(process.env.BENCH_FRESH_BIG_HITS ?? 100_000);
/** The new hits landing on each day once it is rolled up (what a few seconds of live traffic bring). */
const NEW_HITS = Number(process.env.BENCH_FRESH_NEW_HITS ?? 200);
const POST_ATTEMPTS = 20;

export interface FreshStatsResult {
  smallDayHits: number;
  bigDayHits: number;
  newHits: number;
  /** Seconds from the end of seeding until the rollup job covered both days (its first build). */
  firstBuildSeconds: number | null;
  /** The rollup run that absorbed the new hits of each day, by the job's own timing (ms). */
  smallDayRunMs: number | null;
  bigDayRunMs: number | null;
  /** bigDayRunMs / smallDayRunMs: 1 means maintenance costs the same whatever the day's size. */
  ratio: number | null;
  /** The job's log lines of those two runs. */
  runs: string[];
  /** Every collection once both days are rolled up: documents, bytes and index bytes per hit follow. */
  storage: CollectionFootprint[];
}

/** Hits of returning visitors (VisitorTraffic), every one of them within yesterday (UTC, the sites' zone). */
function yesterdayTraffic(seed: number): VisitorTraffic {
  const midnight = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  // Visits start between 01:00 and 23:00 and stay within the day (VisitorTraffic ends them an hour before `now`).
  return new VisitorTraffic(seed, DAY_MS - 3_600_000, midnight - 1);
}

async function post(app: Child, site: BenchSite, traffic: VisitorTraffic, total: number): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < total) {
      const size = Math.min(BATCH, total - sent);
      sent += size;
      const body = JSON.stringify({ hits: traffic.batch(size) });
      for (let attempt = 1; ; attempt++) {
        // A busy app refuses (503) or, past its socket timeout, cuts the connection: both are retried.
        const response = await fetch(`${app.url}/api/v1/hits`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: site.ingestKey },
          body,
        }).catch((error: unknown) => {
          if (attempt >= POST_ATTEMPTS) throw error;
          return undefined;
        });
        const text = response ? await response.text() : '';
        if (response?.status === 202) break;
        if (response && response.status !== 503) throw new Error(`posting hits: ${response.status} ${text}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
}

/** The milliseconds of a RollupJob log line ("Rolled up N site-days through T in X ms (…)"). */
function runMs(line: string): number | null {
  const match = / in (\d+) ms/.exec(line);
  return match ? Number(match[1]) : null;
}

/**
 * "Fresh stats": what it costs to keep a day's stats fresh. Two sites, one with SMALL_DAY_HITS
 * hits on yesterday and one with BIG_DAY_HITS; once both are rolled up, the same NEW_HITS new hits
 * (more of the same visitors' traffic on the same day) go to the small site, then to the big one,
 * and the rollup run that absorbs them is timed by the job itself. Maintenance proportional to the
 * change costs the same on both (ratio 1); recomputing whole days costs in proportion to the day.
 */
export async function runFreshStats(log: (line: string) => void): Promise<FreshStatsResult> {
  const app = await startStatsApp('siteline_bench_fresh');
  let result: FreshStatsResult;
  try {
    const token = await adminToken(app.url);
    const small = await createSite(app.url, token, 'small-day.bench.test');
    const big = await createSite(app.url, token, 'big-day.bench.test');
    const smallTraffic = yesterdayTraffic(301);
    const bigTraffic = yesterdayTraffic(302);
    const seedStarted = performance.now();
    await post(app, small, smallTraffic, SMALL_DAY_HITS);
    await post(app, big, bigTraffic, BIG_DAY_HITS);
    const seconds = (performance.now() - seedStarted) / 1000;
    log(`fresh stats: seeded ${SMALL_DAY_HITS} + ${BIG_DAY_HITS} hits on yesterday in ${Math.round(seconds)}s`);
    const built = await waitForRollup(app, { clock: new Date(), ms: performance.now() });
    if (!built)
      throw new Error(
        'fresh stats: the rollup job had not covered the seeded days in time (BENCH_ROLLUP_WAIT_MINUTES): no ratio to measure',
      );
    log(`fresh stats: first build covered ${built.seconds}s after seeding (${built.run})`);
    const runs: string[] = [];
    const absorb = async (site: BenchSite, traffic: VisitorTraffic, name: string): Promise<number | null> => {
      await post(app, site, traffic, NEW_HITS);
      const run = await waitForRollup(app, { clock: new Date(), ms: performance.now() });
      if (!run) {
        log(`fresh stats: no rollup run absorbed the ${name} day's new hits in time`);
        return null;
      }
      runs.push(run.run);
      log(`fresh stats: ${NEW_HITS} new hits on the ${name} day: ${run.run}`);
      return runMs(run.run);
    };
    const smallDayRunMs = await absorb(small, smallTraffic, 'small');
    const bigDayRunMs = await absorb(big, bigTraffic, 'big');
    const ratio =
      smallDayRunMs !== null && bigDayRunMs !== null
        ? Math.round((bigDayRunMs / Math.max(smallDayRunMs, 1)) * 10) / 10
        : null;
    log(`fresh stats: ${smallDayRunMs} ms vs ${bigDayRunMs} ms (×${ratio})`);
    result = {
      smallDayHits: SMALL_DAY_HITS,
      bigDayHits: BIG_DAY_HITS,
      newHits: NEW_HITS,
      firstBuildSeconds: built.seconds,
      smallDayRunMs,
      bigDayRunMs,
      ratio,
      runs,
      storage: [],
    };
  } finally {
    await app.stop();
  }
  result.storage = await footprint(app.dataDir, app.database);
  removeDataDir(app.dataDir);
  return result;
}
