import { adminToken, createSite, timedGet, type BenchSite } from './lib/api.js';
import { removeDataDir, startApp, waitForOutput, type Child } from './lib/children.js';
import { footprint, type CollectionFootprint } from './lib/stored-hits.js';
import { VisitorTraffic } from './lib/visitor-traffic.js';
import type { SeededPair } from './goals.js';

const DAY_MS = 86_400_000;
const BATCH = 500;
const SEED_CONCURRENCY = 4;
/** Seeding 10^6 hits only runs when it fits the bench's 10-minute budget (or BENCH_FULL=1). */
const SEED_BUDGET_SECONDS = Number(process.env.BENCH_SEED_BUDGET_SECONDS ?? 240);
/**
 * Timed calls per query and size, after a warm-up; the median is reported. At 10^6 hits the
 * store's garbage collector pauses a call now and then for several milliseconds: a median of 7
 * is not moved by three of them, where one of 3 was by two.
 */
const RUNS = 7;
/**
 * How long to wait for the rollup job to cover a backfill before timing queries anyway
 * (BENCH_ROLLUP_WAIT_MINUTES: a 10^6-hit backfill needs far longer than the default 8).
 */
/** Seeding 10^6 hits takes many minutes: a progress line this often tells a slow run from a stuck one. */
const PROGRESS_EVERY = 100_000;
const ROLLUP_WAIT_LIMIT_MS = Number(process.env.BENCH_ROLLUP_WAIT_MINUTES ?? 8) * 60_000;
const LARGE_SIZES = [1_000_000, 100_000, 50_000, 20_000];
/**
 * The embedded store keeps every document and index in its worker thread's heap, whose default
 * limit here is ~4 GB. 10^6 hits come with ~4 more documents per hit in visits and rollups; at the
 * default limit the store spent 68% of a profile in the garbage collector during the rollup. The
 * stats app gets the heap such a data set needs, as a database server gets its RAM (a real
 * MongoDB keeps it out of the app's process altogether).
 */
export const EMBEDDED_STORE_HEAP_MB = 12_288;

/** An app for the stats scale (or `hold`): its own database, and that heap on the embedded store. */
export function startStatsApp(database: string): ReturnType<typeof startApp> {
  return startApp({
    database,
    nodeArgs: process.env.MONGODB_URI ? [] : [`--max-old-space-size=${EMBEDDED_STORE_HEAP_MB}`],
  });
}

/** When the seeding's last hit was acknowledged (before the wait for its first query), by clock and by timer. */
export function seedingEnded(result: SeedResult): { clock: Date; ms: number } {
  return {
    clock: new Date(Date.now() - result.firstQuerySeconds * 1000),
    ms: performance.now() - result.firstQuerySeconds * 1000,
  };
}

export interface SeedResult {
  hits: number;
  /** Hits the API acknowledged (sum of `accepted` in the 202 answers). */
  acknowledged: number;
  seconds: number;
  hitsPerSec: number;
  /** Distinct visitors among the hits (see VisitorTraffic for the traffic's shape). */
  visitors: number;
  /** Time until the first stats query answered: it waits for the sessionizer to catch up. */
  firstQuerySeconds: number;
}

export interface QueryTiming {
  query: string;
  small: number;
  large: number;
  ratio: number;
}

export interface StatsScaleResult {
  smallHits: number;
  largeHits: number;
  full: boolean;
  /** Timed calls per query and size whose median is reported (absent in runs before it was 7: 3). */
  runs?: number;
  seeding: SeedResult[];
  queries: QueryTiming[];
  /**
   * Seconds from the end of seeding until the rollup job logged a run covering every seeded hit
   * (null: not within ROLLUP_WAIT_LIMIT_MS, queries then read the uncovered days raw).
   */
  rollupCaughtUpSeconds: number | null;
  /** Every collection after seeding both sites: documents and bytes per hit follow from it. */
  storage: CollectionFootprint[];
}

/**
 * Posts `total` hits of returning visitors with Zipf-like page views (VisitorTraffic), spread over
 * the last 30 days, in batches of 500 through the key-authenticated API (the real enrichment path).
 */
export async function seed(
  app: Child,
  site: BenchSite,
  total: number,
  seedNumber: number,
  log: (line: string) => void = () => undefined,
): Promise<SeedResult> {
  const traffic = new VisitorTraffic(seedNumber, 30 * DAY_MS - 3_600_000);
  let sent = 0;
  let acknowledged = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (sent < total) {
      const size = Math.min(BATCH, total - sent);
      sent += size;
      const body = JSON.stringify({ hits: traffic.batch(size) });
      for (;;) {
        let response: Response;
        let text: string;
        try {
          response = await fetch(`${app.url}/api/v1/hits`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: site.ingestKey },
            body,
          });
          text = await response.text();
        } catch (error) {
          // A cut connection is a finding, not noise: say whether the app was still alive and what it logged.
          const state = app.process.exitCode ?? app.process.signalCode ?? 'still running';
          throw new Error(
            `seeding: ${String(error)} (${(error as { cause?: unknown }).cause ?? 'no cause'}) after ${acknowledged} ` +
              `acknowledged hits, ${Math.round((performance.now() - started) / 1000)} s; app: ${state}\n` +
              `app log tail:\n${app.output().slice(-6000)}`,
            { cause: error },
          );
        }
        if (response.status === 202) {
          const before = acknowledged;
          acknowledged += (JSON.parse(text) as { accepted: number }).accepted;
          if (Math.floor(acknowledged / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
            log(
              `seeding: ${acknowledged} of ${total} hits acknowledged after ${Math.round((performance.now() - started) / 1000)} s`,
            );
          }
          break;
        }
        if (response.status !== 503) throw new Error(`seeding: ${response.status} ${text}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  const firstStarted = performance.now();
  // Stats wait up to 20 s for the sessionizer to catch up and answer 503 + Retry-After while a
  // backlog remains (a cut connection is retried too): ask again until the numbers are complete.
  for (;;) {
    const first = await timedGet(app.url, `/api/v1/data/views?${seedRange()}`, site.readKey);
    if (first.status === 200) break;
    if (first.status !== 0 && first.status !== 503) {
      // The app's own log says why (the body of a 500 never does).
      throw new Error(
        `first query: ${first.status} ${JSON.stringify(first.body)}\napp log tail:\n${app.output().slice(-6000)}`,
      );
    }
    if (first.status === 503) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return {
    hits: total,
    acknowledged,
    seconds: Math.round(seconds * 10) / 10,
    hitsPerSec: Math.round(total / seconds),
    visitors: traffic.visitorCount,
    firstQuerySeconds: Math.round((performance.now() - firstStarted) / 100) / 10,
  };
}

function day(offset: number): string {
  return new Date(Date.now() - offset * DAY_MS).toISOString().slice(0, 10);
}

function seedRange(): string {
  return `start_date=${day(29)}&end_date=${day(0)}`;
}

function queries(): Array<[string, string]> {
  const range = `from=${day(29)}&to=${day(0)}&classification=ALL`;
  return [
    ['overview', `/api/v1/stats/overview?${range}`],
    ['breakdown(country)', `/api/v1/stats/breakdown?${range}&dimension=country`],
    // Visit-level attribution: counted per visit, kept in rows of their own (docs/stats-maintenance.md).
    ['breakdown(source)', `/api/v1/stats/breakdown?${range}&dimension=source`],
    ['breakdown(utm_source)', `/api/v1/stats/breakdown?${range}&dimension=utm_source`],
    ['timeseries(day)', `/api/v1/stats/timeseries?${range}&interval=day`],
    ...['users', 'views', 'countries', 'cities', 'urls', 'hostnames'].map((name): [string, string] => [
      `data/${name}`,
      `/api/v1/data/${name}?${seedRange()}`,
    ]),
  ];
}

/**
 * Waits until the app has logged a rollup run through `seededAt` (RollupJob: "Rolled up N
 * site-days through <instant> in <ms> ms (…)"); returns the seconds since seeding ended and that
 * run's log message (how long the job itself took), or null at the limit.
 */
export async function waitForRollup(
  app: Child,
  seededAt: { clock: Date; ms: number },
): Promise<{ seconds: number; run: string } | null> {
  return waitForOutput(
    app,
    (output) => {
      const covering = [...output.matchAll(/Rolled up \d+ site-days through (\S+?Z)[^"]*/g)].find(
        (match) => Date.parse(match[1]) >= seededAt.clock.getTime(),
      );
      return covering && { seconds: Math.round((performance.now() - seededAt.ms) / 1000), run: covering[0] };
    },
    ROLLUP_WAIT_LIMIT_MS,
  );
}

/**
 * The median of RUNS timings of `path` on each site, after one warm-up call on each. The calls
 * alternate between the two sites, so a pause of the store (a garbage collection, a journal
 * compaction) lands on both sides of a ratio alike rather than on one of them.
 */
async function timePair(app: Child, sites: [BenchSite, BenchSite], path: string): Promise<[number, number]> {
  for (const site of sites) {
    const warm = await timedGet(app.url, path, site.readKey);
    if (warm.status !== 200) throw new Error(`${path}: ${warm.status} ${JSON.stringify(warm.body)}`);
  }
  const times: [number[], number[]] = [[], []];
  for (let run = 0; run < RUNS; run++)
    for (const side of [0, 1] as const) times[side].push((await timedGet(app.url, path, sites[side].readKey)).ms);
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return Math.round(sorted[Math.floor(RUNS / 2)] * 10) / 10;
  };
  return [median(times[0]), median(times[1])];
}

/** A probe slower than this is a pause of the store, not a query (they take ~5–60 ms here). */
const PAUSE_MS = 250;
const QUIET_PROBES = 20;
const QUIET_WAIT_LIMIT_MS = 120_000;

/**
 * Waits until QUIET_PROBES consecutive probes of `path` (one every 250 ms) each answer within
 * PAUSE_MS: right after the rollup job's backfill the embedded store compacts its journal into a
 * snapshot of every document (seconds at 10^6 hits, the store answering nothing meanwhile), which
 * would otherwise land in the first queries timed. Returns the seconds waited (at most
 * QUIET_WAIT_LIMIT_MS: then the timings go ahead, and the log says so).
 */
async function waitForQuietStore(app: Child, site: BenchSite, path: string): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  while (quiet < QUIET_PROBES && performance.now() - started < QUIET_WAIT_LIMIT_MS) {
    const probe = await timedGet(app.url, path, site.readKey);
    quiet = probe.status === 200 && probe.ms <= PAUSE_MS ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return Math.round((performance.now() - started) / 1000);
}

/**
 * Stats over 30 days on a site of 10^4 hits and a larger one (10^6 with BENCH_FULL=1), timed once the rollups
 * cover the seeding; then the storage of every collection. `thenOnPair` runs after the timings on the same app and
 * sites (the goals at 10^6: seeding 10^6 hits once for both); what it stores is in the storage table too.
 */
export async function runStatsScale(
  log: (line: string) => void,
  thenOnPair?: (pair: SeededPair) => Promise<void>,
): Promise<StatsScaleResult> {
  const app = await startStatsApp('siteline_bench_stats');
  let result: StatsScaleResult;
  try {
    const token = await adminToken(app.url);
    const small = await createSite(app.url, token, 'small.bench.test');
    const smallHits = 10_000;
    const smallSeed = await seed(app, small, smallHits, 101);
    log(
      `seeded ${smallHits} hits of ${smallSeed.visitors} visitors: ${smallSeed.hitsPerSec} hits/s, ` +
        `first query after ${smallSeed.firstQuerySeconds}s`,
    );
    // Seeding scales linearly; the sessionizer's catch-up grew ~k^1.4 for k× the hits here (its
    // claim scans the backlog), so it is estimated with k^1.5 to stay inside the budget.
    const estimate = (hits: number): number => {
      const k = hits / smallHits;
      return smallSeed.seconds * k + smallSeed.firstQuerySeconds * k ** 1.5;
    };
    const full = process.env.BENCH_FULL === '1';
    const forced = Number(process.env.BENCH_LARGE_HITS ?? 0);
    // BENCH_LARGE_HITS sets the size exactly, also beside BENCH_FULL=1 (a short rehearsal of a full run).
    const largeHits =
      forced > 0
        ? forced
        : full
          ? 1_000_000
          : (LARGE_SIZES.find((size) => estimate(size) <= SEED_BUDGET_SECONDS) ?? 20_000);
    if (!full && forced === 0) {
      log(
        `10^6 hits would take ~${Math.round(estimate(1_000_000))}s to seed and sessionize at this rate: ` +
          `using ${largeHits} (BENCH_FULL=1 for 10^6)`,
      );
    }
    const large = await createSite(app.url, token, 'large.bench.test');
    const largeSeed = await seed(app, large, largeHits, 202, log);
    const seededAt = seedingEnded(largeSeed);
    log(
      `seeded ${largeHits} hits of ${largeSeed.visitors} visitors: ${largeSeed.hitsPerSec} hits/s, ` +
        `first query after ${largeSeed.firstQuerySeconds}s`,
    );
    // Reads cover days the rollup job has not reached from raw hits; time the steady state, once
    // the job (every 30 s, leaving the last minute to settle) has logged a run past the seeding.
    log('waiting for the rollup job to cover the seeded hits');
    const rollup = await waitForRollup(app, seededAt);
    const rollupCaughtUpSeconds = rollup?.seconds ?? null;
    log(
      rollup === null
        ? `the rollup job had not covered the seeded hits after ${ROLLUP_WAIT_LIMIT_MS / 1000}s: timing anyway`
        : `rollup job covered the seeded hits ${rollup.seconds}s after seeding ended (${rollup.run})`,
    );
    const probe = queries().find(([name]) => name === 'data/views')![1];
    log(`store quiet after ${await waitForQuietStore(app, large, probe)}s of probes`);
    const timings: QueryTiming[] = [];
    for (const [name, path] of queries()) {
      const [smallMs, largeMs] = await timePair(app, [small, large], path);
      const timing = {
        query: name,
        small: smallMs,
        large: largeMs,
        ratio: Math.round((largeMs / Math.max(smallMs, 0.1)) * 10) / 10,
      };
      timings.push(timing);
      log(`${name}: ${smallMs} ms at ${smallHits}, ${largeMs} ms at ${largeHits} (×${timing.ratio})`);
    }
    result = {
      smallHits,
      largeHits,
      full,
      runs: RUNS,
      seeding: [smallSeed, largeSeed],
      rollupCaughtUpSeconds,
      queries: timings,
      storage: [],
    };
    await thenOnPair?.({
      app,
      sites: [small, large],
      hits: [smallHits, largeHits],
      seeding: [smallSeed, largeSeed],
      rollupCaughtUpSeconds,
    });
  } finally {
    await app.stop();
  }
  result.storage = await footprint(app.dataDir, app.database);
  removeDataDir(app.dataDir);
  log(`storage: ${result.storage.map((c) => `${c.collection} ${c.documents} docs × ${c.averageBytes} B`).join(', ')}`);
  return result;
}
