import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminToken, createSite, timedGet, type BenchSite } from './lib/api.js';
import { removeDataDir, startApp, startRawServer, startStore, type Child } from './lib/children.js';
import { TrafficGenerator } from './lib/hits.js';
import { runFloodLoad } from './lib/flood.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { countStoredHits } from './lib/stored-hits.js';

export interface IngestScenarioResult extends LoadResult {
  hitsPerRequest: number;
  /** req/s (hits/s for batches) over the raw ceiling's req/s in this run. */
  ratioToCeiling: number;
  notes?: string;
}

export interface FloodResult extends IngestScenarioResult {
  rssBoundMb: number;
  /** Whether the graceful shutdown after the flood overran 30 s and the app was killed (SIGKILL). */
  killedAfterTimeout: boolean;
  storedHits: number;
  lostAcknowledgedHits: number;
  /** Peak RSS of the embedded store's own process (not bounded: it holds the data). */
  storePeakRssMb?: number;
}

export interface StatsUnderLoad {
  queries: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  failures: number;
}

export interface IngestRun {
  ceiling: LoadResult;
  scenarios: IngestScenarioResult[];
  statsUnderLoad: StatsUnderLoad;
  flood: FloodResult;
}

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const FLOOD_SECONDS = 20;
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const CONNECTIONS = 32;
/**
 * Request bodies per scenario, cycled by autocannon. Large enough, with visitors drawn from a
 * large population, that a visitor sends a hit every half minute or so as on a real site; a
 * few hundred bodies made every visitor hit twice a second, one endless visit each, and the
 * sessionizer then re-read whole visits on every hit (quadratic in the run's length).
 */
const POOL = 16_384;
export const VISITORS = 100_000;
/** The flood may not push the app past this RSS (documented in docs/SCALING.md). */
export const FLOOD_RSS_BOUND_MB = 768;

export function singleBodies(visitors: number): string[] {
  const traffic = new TrafficGenerator(visitors, 7);
  return Array.from({ length: POOL }, () => JSON.stringify(traffic.hit()));
}

function batchBodies(size: number, count: number, visitors: number, seed: number): string[] {
  const traffic = new TrafficGenerator(visitors, seed);
  return Array.from({ length: count }, () => JSON.stringify({ hits: traffic.batch(size) }));
}

function trafficBodies(visitors: number): string[] {
  const traffic = new TrafficGenerator(visitors, 11);
  return Array.from({ length: POOL }, () => {
    const hit = traffic.hit();
    return JSON.stringify({ url: hit.url, ip_addr: hit.ip, user_agent: hit.userAgent });
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Overview + /api/v1/data queries in a loop while `until` is pending. */
async function queryLoop(base: string, site: BenchSite, until: Promise<unknown>): Promise<StatsUnderLoad> {
  let done = false;
  void until.finally(() => (done = true));
  const today = new Date().toISOString().slice(0, 10);
  const paths = [
    `/api/v1/stats/overview?period=day`,
    `/api/v1/data/views?start_date=${today}&end_date=${today}`,
    `/api/v1/data/countries?start_date=${today}&end_date=${today}`,
  ];
  const times: number[] = [];
  let failures = 0;
  for (let turn = 0; !done; turn++) {
    const { ms, status } = await timedGet(base, paths[turn % paths.length], site.readKey);
    times.push(ms);
    if (status !== 200) failures++;
  }
  times.sort((a, b) => a - b);
  const round = (value: number): number => Math.round(value * 10) / 10;
  return {
    queries: times.length,
    p50Ms: round(percentile(times, 50)),
    p99Ms: round(percentile(times, 99)),
    maxMs: round(times.at(-1) ?? 0),
    failures,
  };
}

function withRatio(
  result: LoadResult,
  hitsPerRequest: number,
  ceiling: LoadResult,
  notes?: string,
): IngestScenarioResult {
  const measure = hitsPerRequest > 1 ? result.hitsPerSec : result.reqPerSec;
  return { ...result, hitsPerRequest, ratioToCeiling: Math.round((measure / ceiling.reqPerSec) * 100) / 100, notes };
}

export async function measureCeiling(): Promise<LoadResult> {
  const raw = await startRawServer();
  try {
    return await runLoad(
      {
        name: 'raw node:http ceiling',
        url: raw.url,
        path: '/',
        headers: {},
        bodies: singleBodies(VISITORS),
        connections: CONNECTIONS,
        seconds: SECONDS,
        warmupSeconds: WARMUP,
      },
      raw.pid,
    );
  } finally {
    await raw.stop();
  }
}

export async function runIngestScenarios(
  app: Child,
  ceiling: LoadResult,
  log: (line: string) => void,
): Promise<Omit<IngestRun, 'flood' | 'ceiling'>> {
  const token = await adminToken(app.url);
  const scenarios: IngestScenarioResult[] = [];
  const load = async (
    name: string,
    site: BenchSite,
    path: string,
    bodies: string[],
    hitsPerRequest: number,
    connections: number,
    headers?: Record<string, string>,
  ) => {
    const result = await runLoad(
      {
        name,
        url: app.url,
        path,
        headers: headers ?? { authorization: `Bearer ${site.ingestKey}` },
        bodies,
        connections,
        seconds: SECONDS,
        warmupSeconds: WARMUP,
      },
      app.pid,
    );
    const row = withRatio(result, hitsPerRequest, ceiling);
    scenarios.push(row);
    log(
      `${name}: ${row.reqPerSec} req/s, ${row.hitsPerSec} hits/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, non-2xx ${row.non2xx}, ratio ${row.ratioToCeiling}`,
    );
    return row;
  };

  const single = await createSite(app.url, token, 'single.bench.test');
  await load('single hit / request (/api/v1/hits)', single, '/api/v1/hits', singleBodies(VISITORS), 1, CONNECTIONS);
  // BENCH_ONLY=single: the quick before/after loop for an optimisation.
  if (process.env.BENCH_ONLY === 'single')
    return { scenarios, statsUnderLoad: { queries: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, failures: 0 } };
  const batch = await createSite(app.url, token, 'batch.bench.test');
  await load('batch of 100 (/api/v1/hits)', batch, '/api/v1/hits', batchBodies(100, 256, VISITORS, 5), 100, 8);
  const traffic = await createSite(app.url, token, 'traffic.bench.test');
  // The site-analytics form: the raw key in Authorization, site-analytics field names.
  await load(
    'site-analytics form (/api/v1/traffic)',
    traffic,
    '/api/v1/traffic',
    trafficBodies(VISITORS),
    1,
    CONNECTIONS,
    {
      authorization: traffic.ingestKey,
    },
  );

  const mixed = await createSite(app.url, token, 'mixed.bench.test');
  const ingest = load(
    'single hit while stats are queried',
    mixed,
    '/api/v1/hits',
    singleBodies(VISITORS),
    1,
    CONNECTIONS,
  );
  const statsUnderLoad = await queryLoop(app.url, mixed, ingest);
  log(
    `stats under load: ${statsUnderLoad.queries} queries, p50 ${statsUnderLoad.p50Ms} ms, p99 ${statsUnderLoad.p99Ms} ms, failures ${statsUnderLoad.failures}`,
  );
  return { scenarios, statsUnderLoad };
}

/**
 * Beyond capacity: 256 connections sending batches of 500 to a fresh instance. The app must shed
 * load with 503 + Retry-After (queue full) rather than grow, and after a graceful stop every hit
 * it acknowledged with 202 must be in the database.
 */
export async function runFlood(ceiling: LoadResult, log: (line: string) => void): Promise<FloodResult> {
  // The bound is for the app. On the embedded store the database runs in a process of its own
  // here, as MongoDB does in production: in the app's process its data (every acknowledged hit,
  // with indexes) would count against the app's bound.
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-bench-flood-'));
  const store = process.env.MONGODB_URI ? undefined : await startStore(dataDir, 'siteline');
  const app = await startApp({
    database: 'siteline_bench_flood',
    dataDir,
    env: store ? { MONGODB_URI: store.uri } : {},
  });
  let result: LoadResult;
  let siteId: string;
  let storePeakRssMb: number | undefined;
  try {
    const token = await adminToken(app.url);
    const site = await createSite(app.url, token, 'flood.bench.test');
    siteId = site.id;
    const bodies = batchBodies(500, 16, 50_000, 13);
    result = await runFloodLoad(
      {
        name: 'flood: 256 conns × 500-hit batches',
        url: app.url,
        headers: { authorization: site.ingestKey },
        bodies,
        connections: 256,
        seconds: FLOOD_SECONDS,
        drainSeconds: 60,
      },
      app.pid,
    );
  } finally {
    await app.stop();
    storePeakRssMb = store?.peakRssMb();
    await store?.stop();
  }
  // Reopens the store from its data directory: what was acknowledged must have survived.
  const storedHits = await countStoredHits(app.dataDir, app.database, siteId);
  removeDataDir(dataDir);
  const flood: FloodResult = {
    ...withRatio(result, 500, ceiling),
    rssBoundMb: FLOOD_RSS_BOUND_MB,
    killedAfterTimeout: app.killedAfterTimeout ?? false,
    storedHits,
    lostAcknowledgedHits: Math.max(0, result.acceptedHits - storedHits),
    storePeakRssMb,
  };
  log(
    `flood: ${flood.reqPerSec} req/s, ${flood.hitsPerSec} hits/s acknowledged, statuses ${JSON.stringify(flood.statusCodes)}, Retry-After ${flood.retryAfterSeen}, ` +
      `peak RSS ${flood.server.peakRssMb} MB (bound ${FLOOD_RSS_BOUND_MB}), acknowledged ${flood.acceptedHits}, stored ${storedHits}, lost ${flood.lostAcknowledgedHits}`,
  );
  return flood;
}
