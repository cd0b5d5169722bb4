import { loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, createSite, timedGet, type BenchSite } from './lib/api.js';
import { removeDataDir, startApp, startStore, type Child, type StoreProcess } from './lib/children.js';
import {
  highestKeptUp,
  judgeStep,
  lagSeconds,
  parseRateSteps,
  type MaintenanceSample,
  type StepVerdict,
} from './lib/keeping-up.js';
import { LiveTraffic } from './lib/live-traffic.js';
import { MaintenanceState, type MaintenanceReading } from './lib/maintenance-state.js';
import { offerLoad, type OfferResult } from './lib/open-loop.js';
import { cpuSeconds } from './lib/process-stats.js';
import { externalUri } from './lib/stored-hits.js';
import { startRecordingProxy } from './lib/wire-recording.js';

/** Offered hits/s, one step each, rising; the scenario stops after the first step that does not keep up. */
const RATES = parseRateSteps(process.env.BENCH_SUSTAINED_RATES ?? '100,250,500,1000,2000,4000');
/**
 * Seconds per step. The issue asks for ≥ 5 minutes at the reported rate: the steps find the rate
 * (2 minutes each, four rollup periods), then CONFIRM_SECONDS hold it on a fresh app.
 */
const STEP_SECONDS = Number(process.env.BENCH_SUSTAINED_STEP_SECONDS ?? 120);
const CONFIRM_SECONDS = Number(process.env.BENCH_SUSTAINED_CONFIRM_SECONDS ?? 300);
/** What a server-side client (or a tracker proxy) sends per request; the runs used 100. */
const BATCH_SIZE = Number(process.env.BENCH_SUSTAINED_BATCH ?? 100);
const SAMPLE_MS = 5_000;
/** The app-cost run: a rate the app keeps up with, for this long, then until maintenance caught up. */
const APPCOST_RATE = Number(process.env.BENCH_APPCOST_RATE ?? 250);
const APPCOST_SECONDS = Number(process.env.BENCH_APPCOST_SECONDS ?? 60);
const APPCOST_WARMUP_SECONDS = Number(process.env.BENCH_APPCOST_WARMUP_SECONDS ?? 10);
const APPCOST_CATCHUP_LIMIT_SECONDS = Number(process.env.BENCH_APPCOST_CATCHUP_SECONDS ?? 240);
const IDLE_BASELINE_SECONDS = 15;
/** The standalone store keeps every document in its heap, as the app's worker would (stats-scale.ts). */
const STORE_HEAP = ['--max-old-space-size=8192'];
/** Extra node flags for the store process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
const STORE_NODE_ARGS = (process.env.BENCH_STORE_NODE_ARGS ?? '').split(' ').filter(Boolean);
const ROLLUP_LINE = /Rolled up (\d+) site-days through (\S+?Z) in (\d+) ms/g;

export interface CpuSplit {
  /** % of one core over the window (200% = both cores of this machine). */
  appPercent: number;
  /** The app's event loop: request handling and the background jobs (sessionizer, rollup job) share it. */
  appMainThreadPercent: number;
  /** The app's other threads: V8's garbage-collector helpers, libuv's pool. */
  appOtherThreadsPercent: number;
  /** The embedded store's own process (null on an external MongoDB). */
  storePercent: number | null;
  /** CPU per accepted hit, µs. */
  appUsPerHit: number;
  storeUsPerHit: number | null;
}

export interface RollupRuns {
  runs: number;
  /** Sum of the runs' own durations (the job's log line), ms. */
  totalMs: number;
  longestMs: number;
  /** totalMs over the window: the share of the time a rollup run was in progress. */
  busyPercent: number;
}

export interface SustainedStep {
  rate: number;
  seconds: number;
  batchSize: number;
  load: OfferResult;
  acceptedPerSec: number;
  samples: MaintenanceSample[];
  verdict: StepVerdict;
  cpu: CpuSplit;
  rollupRuns: RollupRuns;
  /** A one-day overview of today at the end of the step (status 0: the connection was cut). */
  overview: { status: number; ms: number };
  loadAverage: { start: number[]; end: number[] };
  /** % of the last minute some task waited for a CPU, at the step's end (see cpuPressure). */
  cpuPressurePercent: number | null;
}

export interface SustainedResult {
  rates: number[];
  stepSeconds: number;
  batchSize: number;
  store: string;
  steps: SustainedStep[];
  /** Highest offered rate of the unbroken run of steps that kept up. */
  highestKeptUp: number | null;
  /** That rate held for CONFIRM_SECONDS on a fresh app (null: no rate to confirm, or confirmation off). */
  confirm: SustainedStep | null;
}

export interface AppCostResult {
  rate: number;
  seconds: number;
  batchSize: number;
  load: OfferResult;
  /** Whether the warm-up's background work had finished before the measured run (else some of it is in the figure). */
  warmUpCaughtUp: boolean;
  /** App CPU while idle before the run (timers, heartbeats), % of one core. */
  idleAppPercent: number;
  ingest: CpuSplit & { seconds: number };
  /** After the last hit until the sessionizer's backlog was empty and the rollup job covered the last hit. */
  catchUp: CpuSplit & {
    seconds: number;
    caughtUp: boolean;
    /** At the end of the wait: visitors still to sessionize, and how far before the last hit the rollup watermark was. */
    sessionizerBacklog?: number | null;
    rollupBehindLastHitSeconds?: number | null;
  };
  /** The whole run (ingest + catch-up), app CPU per accepted hit, µs, idle baseline subtracted. */
  appUsPerHit: number;
  appUsPerHitRaw: number;
  storeUsPerHit: number | null;
  rollupRuns: RollupRuns;
  loadAverage: { start: number[]; end: number[] };
  cpuPressurePercent: number | null;
}

interface Stack {
  app: Child & { dataDir: string; database: string };
  store: StoreProcess | null;
  uri: string;
  site: BenchSite;
  maintenance: MaintenanceState;
  rollupRuns: Array<{ at: number; ms: number }>;
  stop(): Promise<void>;
}

/** The embedded store in a process of its own (or MONGODB_URI), the app on it, one site. */
async function startStack(database: string, domain: string): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-bench-'));
  const external = externalUri(database);
  const store = external ? null : await startStore(dataDir, database, [...STORE_HEAP, ...STORE_NODE_ARGS]);
  const uri = external ?? store!.uri;
  // BENCH_RECORD_WIRE=<file>: the app talks to the store through a proxy recording its messages (wire-replay.ts).
  const recorder =
    store && process.env.BENCH_RECORD_WIRE
      ? await startRecordingProxy(Number(new URL(store.uri).port), process.env.BENCH_RECORD_WIRE)
      : undefined;
  const appUri = recorder ? uri.replace(`:${new URL(store!.uri).port}/`, `:${recorder.port}/`) : uri;
  const app = await startApp({ database, dataDir, env: { MONGODB_URI: appUri } });
  // The app logs a line per request: the rollup job's lines are caught as they stream, not from the tail.
  const rollupRuns: Array<{ at: number; ms: number }> = [];
  let pending = '';
  app.process.stdout?.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines)
      for (const match of line.matchAll(ROLLUP_LINE)) rollupRuns.push({ at: performance.now(), ms: Number(match[3]) });
  });
  const token = await adminToken(app.url);
  const site = await createSite(app.url, token, domain);
  const maintenance = await MaintenanceState.connect(uri);
  return {
    app,
    store,
    uri,
    site,
    maintenance,
    rollupRuns,
    async stop() {
      await maintenance.close();
      await app.stop();
      await recorder?.stop();
      await store?.stop();
      removeDataDir(dataDir);
    },
  };
}

interface CpuMark {
  at: number;
  app: { total: number; mainThread: number };
  store: number | null;
}

function markCpu(stack: Stack): CpuMark {
  return {
    at: performance.now(),
    app: cpuSeconds(stack.app.pid),
    store: stack.store ? cpuSeconds(stack.store.pid).total : null,
  };
}

const percent = (cpu: number, seconds: number): number => Math.round((cpu / seconds) * 100);

function cpuSplit(from: CpuMark, to: CpuMark, hits: number, idleAppPercent = 0): CpuSplit {
  const seconds = (to.at - from.at) / 1000;
  const app = to.app.total - from.app.total;
  const main = to.app.mainThread - from.app.mainThread;
  const store = to.store !== null && from.store !== null ? to.store - from.store : null;
  const perHit = (cpu: number): number => (hits > 0 ? Math.round((cpu * 1e6) / hits) : 0);
  return {
    appPercent: percent(app, seconds),
    appMainThreadPercent: percent(main, seconds),
    appOtherThreadsPercent: percent(app - main, seconds),
    storePercent: store === null ? null : percent(store, seconds),
    appUsPerHit: perHit(Math.max(0, app - (idleAppPercent / 100) * seconds)),
    storeUsPerHit: store === null ? null : perHit(store),
  };
}

function rollupRunsBetween(stack: Stack, from: number, to: number): RollupRuns {
  const runs = stack.rollupRuns.filter((run) => run.at >= from && run.at < to);
  const totalMs = runs.reduce((sum, run) => sum + run.ms, 0);
  return {
    runs: runs.length,
    totalMs,
    longestMs: Math.max(0, ...runs.map((run) => run.ms)),
    busyPercent: Math.round((totalMs / (to - from)) * 100),
  };
}

const loadAverage = (): number[] => loadavg().map((value) => Math.round(value * 100) / 100);

/**
 * The share of the last 60 s in which some runnable task waited for a CPU (Linux pressure stall
 * information, `/proc/pressure/cpu`): on a machine shared with other work, how starved every
 * process of the run was. null where the kernel does not report it.
 */
function cpuPressure(): number | null {
  try {
    const match = /^some .*avg60=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Samples the maintenance state every SAMPLE_MS until `work` resolves. */
async function sampleWhile<T>(
  stack: Stack,
  firstHitAt: Date,
  started: number,
  work: Promise<T>,
): Promise<{ result: T; samples: MaintenanceSample[] }> {
  const samples: MaintenanceSample[] = [];
  let done = false;
  let lastCovered: Date | null = null;
  const sampler = (async () => {
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      const reading = await stack.maintenance.read();
      // A store too busy to answer keeps the last watermark read rather than inventing one.
      if (reading.coveredThrough !== undefined) lastCovered = reading.coveredThrough;
      samples.push({
        atSeconds: Math.round((performance.now() - started) / 1000),
        rollupLagSeconds: Math.round(lagSeconds(new Date(), lastCovered, firstHitAt)),
        sessionizerBacklog: reading.sessionizerBacklog,
      });
    }
  })();
  const result = await work.finally(() => {
    done = true;
  });
  await sampler;
  return { result, samples };
}

async function runStep(stack: Stack, rate: number, seconds: number, firstHitAt: Date): Promise<SustainedStep> {
  const loadStart = loadAverage();
  const before = markCpu(stack);
  const traffic = new LiveTraffic(1_000 + rate, rate);
  // CPU is read the moment the load ends, not when the sampler next wakes.
  const {
    result: { load, after },
    samples,
  } = await sampleWhile(
    stack,
    firstHitAt,
    before.at,
    offerLoad({
      url: stack.app.url,
      ingestKey: stack.site.ingestKey,
      rate,
      seconds,
      batchSize: BATCH_SIZE,
      traffic,
    }).then((result) => ({ load: result, after: markCpu(stack) })),
  );
  const today = new Date().toISOString().slice(0, 10);
  const overview = await timedGet(
    stack.app.url,
    `/api/v1/stats/overview?from=${today}&to=${today}&classification=ALL`,
    stack.site.readKey,
  );
  return {
    rate,
    seconds,
    batchSize: BATCH_SIZE,
    load,
    acceptedPerSec: Math.round(load.acceptedHits / seconds),
    samples,
    verdict: judgeStep({ offered: load.offeredHits, accepted: load.acceptedHits, samples }),
    cpu: cpuSplit(before, after, load.acceptedHits),
    rollupRuns: rollupRunsBetween(stack, before.at, after.at),
    overview: { status: overview.status, ms: Math.round(overview.ms) },
    loadAverage: { start: loadStart, end: loadAverage() },
    cpuPressurePercent: cpuPressure(),
  };
}

function describeStep(step: SustainedStep): string {
  const { load, verdict, cpu } = step;
  return (
    `${step.rate} hits/s offered for ${step.seconds}s: ${step.acceptedPerSec} accepted/s ` +
    `(${load.refusedHits} refused, ${load.failedHits} failed, ${load.notSentHits} not sent), ` +
    `lag ${verdict.lagSeconds}s, backlog ${step.samples.at(-1)?.sessionizerBacklog ?? '?'}, ` +
    `CPU app ${cpu.appPercent}% (main ${cpu.appMainThreadPercent}%) store ${cpu.storePercent ?? '?'}%, ` +
    `rollup busy ${step.rollupRuns.busyPercent}% (longest ${step.rollupRuns.longestMs} ms), ` +
    `overview ${step.overview.status} in ${step.overview.ms} ms, load ${step.loadAverage.end[0]}, CPU pressure ${step.cpuPressurePercent ?? '?'}%: ` +
    (verdict.keptUp ? 'kept up' : `did not keep up (${verdict.reasons.join('; ')})`)
  );
}

/**
 * "Sustained": steady live ingest on one site at rising offered rates, each step STEP_SECONDS;
 * per step, hits accepted and refused, how far behind the rollup job and the sessionizer are, and
 * where the CPU goes. Stops after the first step that does not keep up, then holds the highest
 * rate that did for CONFIRM_SECONDS on a fresh app (the "≥ 5 minutes").
 */
export async function runSustained(log: (line: string) => void): Promise<SustainedResult> {
  const steps: SustainedStep[] = [];
  const stack = await startStack('siteline_bench_sustained', 'sustained.bench.test');
  try {
    const firstHitAt = new Date();
    for (const rate of RATES) {
      const step = await runStep(stack, rate, STEP_SECONDS, firstHitAt);
      steps.push(step);
      log(`sustained: ${describeStep(step)}`);
      if (!step.verdict.keptUp) break;
    }
  } finally {
    await stack.stop();
  }
  const best = highestKeptUp(steps);
  let confirm: SustainedStep | null = null;
  if (best !== null && CONFIRM_SECONDS > 0) {
    const fresh = await startStack('siteline_bench_sustained_confirm', 'sustained-confirm.bench.test');
    try {
      confirm = await runStep(fresh, best, CONFIRM_SECONDS, new Date());
      log(`sustained, confirming on a fresh app: ${describeStep(confirm)}`);
    } finally {
      await fresh.stop();
    }
  }
  return {
    rates: RATES,
    stepSeconds: STEP_SECONDS,
    batchSize: BATCH_SIZE,
    store: process.env.MONGODB_URI ? 'MongoDB (MONGODB_URI)' : 'embedded store, in a process of its own',
    steps,
    highestKeptUp: best,
    confirm,
  };
}

/**
 * Waits (at most APPCOST_CATCHUP_LIMIT_SECONDS) until the sessionizer's backlog is empty and the
 * rollup job covered `lastHitAt`; says whether it did, and the last reading (how far from it).
 */
async function waitForMaintenance(
  stack: Stack,
  lastHitAt: Date,
): Promise<{ caughtUp: boolean; sessionizerBacklog: number | null; rollupLagSeconds: number | null }> {
  const deadline = performance.now() + APPCOST_CATCHUP_LIMIT_SECONDS * 1000;
  let last: MaintenanceReading = { coveredThrough: undefined, sessionizerBacklog: null };
  let caughtUp = false;
  while (!caughtUp && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    last = await stack.maintenance.read();
    caughtUp = last.sessionizerBacklog === 0 && last.coveredThrough instanceof Date && last.coveredThrough >= lastHitAt;
  }
  return {
    caughtUp,
    sessionizerBacklog: last.sessionizerBacklog,
    // How far behind the last hit the rollups were when the wait ended.
    rollupLagSeconds:
      last.coveredThrough instanceof Date
        ? Math.max(0, Math.round((lastHitAt.getTime() - last.coveredThrough.getTime()) / 1000))
        : null,
  };
}

/**
 * "App cost": CPU µs per hit of the app process alone, the store in a process of its own as
 * MongoDB would be: after a warm-up (and its background work), APPCOST_SECONDS of ingest at
 * APPCOST_RATE, then until the sessionizer's
 * backlog is empty and the rollup job has covered the last hit, so the background work those
 * hits cause is in the figure. The app's idle CPU (measured first) is subtracted.
 */
export async function runAppCost(log: (line: string) => void): Promise<AppCostResult> {
  const stack = await startStack('siteline_bench_appcost', 'appcost.bench.test');
  try {
    // Warm-up: the first requests run V8's unoptimised code; then the background work they caused is let finish.
    const warmUp = await offerLoad({
      url: stack.app.url,
      ingestKey: stack.site.ingestKey,
      rate: APPCOST_RATE,
      seconds: APPCOST_WARMUP_SECONDS,
      batchSize: BATCH_SIZE,
      traffic: new LiveTraffic(4_241, APPCOST_RATE),
    });
    const warmUpCaughtUp = (await waitForMaintenance(stack, warmUp.lastSentAt)).caughtUp;
    const loadStart = loadAverage();
    const idleFrom = markCpu(stack);
    await new Promise((resolve) => setTimeout(resolve, IDLE_BASELINE_SECONDS * 1000));
    const idle = cpuSplit(idleFrom, markCpu(stack), 0);
    const start = markCpu(stack);
    const load = await offerLoad({
      url: stack.app.url,
      ingestKey: stack.site.ingestKey,
      rate: APPCOST_RATE,
      seconds: APPCOST_SECONDS,
      batchSize: BATCH_SIZE,
      traffic: new LiveTraffic(4_242, APPCOST_RATE),
    });
    const ingested = markCpu(stack);
    const endState = await waitForMaintenance(stack, load.lastSentAt);
    const { caughtUp } = endState;
    const end = markCpu(stack);
    const hits = load.acceptedHits;
    const whole = cpuSplit(start, end, hits, idle.appPercent);
    const result: AppCostResult = {
      rate: APPCOST_RATE,
      seconds: APPCOST_SECONDS,
      batchSize: BATCH_SIZE,
      load,
      idleAppPercent: idle.appPercent,
      warmUpCaughtUp,
      ingest: { ...cpuSplit(start, ingested, hits), seconds: Math.round((ingested.at - start.at) / 1000) },
      catchUp: {
        ...cpuSplit(ingested, end, hits),
        seconds: Math.round((end.at - ingested.at) / 1000),
        caughtUp,
        sessionizerBacklog: endState.sessionizerBacklog,
        rollupBehindLastHitSeconds: endState.rollupLagSeconds,
      },
      appUsPerHit: whole.appUsPerHit,
      appUsPerHitRaw: cpuSplit(start, end, hits).appUsPerHit,
      storeUsPerHit: whole.storeUsPerHit,
      rollupRuns: rollupRunsBetween(stack, start.at, end.at),
      loadAverage: { start: loadStart, end: loadAverage() },
      cpuPressurePercent: cpuPressure(),
    };
    log(
      `app cost: ${hits} hits accepted of ${load.offeredHits} offered at ${APPCOST_RATE}/s; ` +
        `app ${result.appUsPerHit} µs/hit (${result.appUsPerHitRaw} before subtracting idle ${idle.appPercent}%), ` +
        `of which ingest ${result.ingest.appUsPerHit} and catch-up ${result.catchUp.appUsPerHit} over ${result.catchUp.seconds}s ` +
        `(${caughtUp ? 'caught up' : 'NOT caught up'}); store ${result.storeUsPerHit ?? '?'} µs/hit; load ${result.loadAverage.end[0]}, ` +
        `CPU pressure ${result.cpuPressurePercent ?? '?'}%`,
    );
    return result;
  } finally {
    await stack.stop();
  }
}
