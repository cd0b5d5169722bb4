import { appendFileSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { adminToken, createSite } from './lib/api.js';
import { removeDataDir, startApp, startStore } from './lib/children.js';
import { TrafficGenerator, userAgentOf, type HitShape } from './lib/hits.js';
import { offerLoad, type OfferResult } from './lib/open-loop.js';
import { cpuSeconds } from './lib/process-stats.js';
import { startCountingProxy } from './lib/wire-counting.js';

/**
 * `npm run bench -- sessionizer-drain`: how fast the sessionizer works off a backlog, and how many
 * store commands it spends per visitor. The embedded store runs in a process of its own behind
 * a proxy that counts the app's commands; one site.
 *
 * 1. VISITORS visitors send one page view each, and the app sessionizes them (each has a visit).
 * 2. The bench holds the leases of the work list (`visitor_dirty`), as another instance busy with
 *    those visitors would, while each visitor sends HITS_PER_VISITOR more page views: their marks
 *    pile up, none is taken.
 * 3. It gives the leases back, sends one hit to wake the sessionizer, and times until the work
 *    list is empty: visitors recomputed per second, and the commands the app sent meanwhile.
 * The rollup job is kept out of the way the same way (the bench holds its lease), so every
 * command counted is the sessionizer's (and the wake-up hit's). Talks only to 127.0.0.1.
 */
const VISITORS = Number(process.env.BENCH_DRAIN_VISITORS ?? 20_000);
const HITS_PER_VISITOR = Number(process.env.BENCH_DRAIN_HITS_PER_VISITOR ?? 2);
/** Hits/s offered while building the backlog (batches of BATCH_SIZE). */
const RATE = Number(process.env.BENCH_DRAIN_RATE ?? 2_000);
const BATCH_SIZE = 100;
const DRAIN_LIMIT_MS = Number(process.env.BENCH_DRAIN_LIMIT_SECONDS ?? 300) * 1000;
const POLL_MS = 100;
const HOLD_TOKEN = 'sessionizer-drain-bench';
const DATABASE = 'siteline_bench_drain';

/** Page views of visitors 0..VISITORS-1 in turn, each visitor with its own IP and user agent. */
class RoundRobinVisitors {
  private readonly ips = new TrafficGenerator(VISITORS);
  private next = 0;
  private sent = 0;

  batch(size: number): HitShape[] {
    return Array.from({ length: size }, () => {
      const visitor = this.next;
      this.next = (this.next + 1) % VISITORS;
      this.sent += 1;
      return {
        url: `https://drain.bench.test/page-${this.sent % 50}`,
        ip: this.ips.ip(visitor),
        userAgent: userAgentOf(visitor),
      };
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const dataDir = mkdtempSync(join(tmpdir(), 'siteline-bench-'));
// BENCH_STORE_NODE_ARGS: extra node flags for the store, e.g. `--cpu-prof --cpu-prof-dir=<dir>`
// (BENCH_APP_NODE_ARGS for the app).
const storeNodeArgs = (process.env.BENCH_STORE_NODE_ARGS ?? '').split(' ').filter(Boolean);
const store = await startStore(dataDir, DATABASE, ['--max-old-space-size=8192', ...storeNodeArgs]);
const proxy = await startCountingProxy(Number(new URL(store.uri).port));
const client = await MongoClient.connect(store.uri);
const db = client.db();
const dirty = db.collection<{ _id: string; claimToken: string | null; claimedUntil: Date }>('visitor_dirty');
// Another instance holding the rollup lease: the rollup job does not run during this bench.
await db
  .collection<{ _id: string; holder: string; expiresAt: Date }>('leases')
  .updateOne({ _id: 'stats-rollup' }, { $set: { holder: HOLD_TOKEN, expiresAt: new Date(8.64e15) } }, { upsert: true });
const app = await startApp({
  database: DATABASE,
  dataDir,
  env: { MONGODB_URI: store.uri.replace(`:${new URL(store.uri).port}/`, `:${proxy.port}/`) },
});
try {
  const token = await adminToken(app.url);
  const site = await createSite(app.url, token, 'drain.bench.test');
  const traffic = new RoundRobinVisitors();
  const offer = (hits: number): Promise<OfferResult> =>
    offerLoad({
      url: app.url,
      ingestKey: site.ingestKey,
      rate: RATE,
      seconds: hits / RATE,
      batchSize: BATCH_SIZE,
      traffic,
    });
  const waitFor = async (done: () => Promise<boolean>, what: string): Promise<void> => {
    const deadline = performance.now() + DRAIN_LIMIT_MS;
    while (!(await done())) {
      if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await sleep(POLL_MS);
    }
  };

  const first = await offer(VISITORS);
  await waitFor(async () => (await dirty.countDocuments()) === 0, 'the first visits');

  // Hold every free work item as it appears, until the hits are in and the app's own batches ended.
  let holding = true;
  const hold = async (): Promise<void> => {
    await dirty.updateMany({ claimToken: null }, { $set: { claimToken: HOLD_TOKEN, claimedUntil: new Date(8.64e15) } });
  };
  const holder = (async () => {
    while (holding) {
      await hold();
      await sleep(20);
    }
  })();
  const second = await offer(VISITORS * HITS_PER_VISITOR);
  holding = false;
  await holder;
  await hold();
  await waitFor(
    async () => (await dirty.countDocuments({ claimToken: { $nin: [null, HOLD_TOKEN] } })) === 0,
    "the app's batches in progress",
  );
  const backlog = await dirty.countDocuments();

  const loadStart = loadavg();
  const cpuBefore = { app: cpuSeconds(app.pid).total, store: cpuSeconds(store.pid).total };
  proxy.reset();
  const started = performance.now();
  await dirty.updateMany({ claimToken: HOLD_TOKEN }, { $set: { claimToken: null, claimedUntil: new Date(0) } });
  // A write asks for a background pass, as live ingest does.
  await offerLoad({
    url: app.url,
    ingestKey: site.ingestKey,
    rate: 1,
    seconds: 1,
    batchSize: 1,
    traffic: { batch: () => [{ url: 'https://drain.bench.test/wake', ip: '8.8.4.4', userAgent: userAgentOf(1) }] },
  });
  const samples: Array<{ ms: number; backlog: number }> = [];
  await waitFor(async () => {
    const left = await dirty.countDocuments();
    samples.push({ ms: Math.round(performance.now() - started), backlog: left });
    return left === 0;
  }, 'the backlog to drain');
  const seconds = (performance.now() - started) / 1000;
  const counts = proxy.counts();
  const commands = Object.values(counts).reduce((sum, count) => sum + count, 0);
  const result = {
    at: new Date().toISOString(),
    build: process.env.SITELINE_BENCH_BUILD,
    visitors: VISITORS,
    hitsPerVisitor: HITS_PER_VISITOR,
    accepted: { first: first.acceptedHits, second: second.acceptedHits },
    backlog,
    drainSeconds: Math.round(seconds * 100) / 100,
    visitorsPerSecond: Math.round(backlog / seconds),
    commands,
    commandsPerVisitor: Math.round((commands / backlog) * 1000) / 1000,
    counts,
    cpuPercent: {
      app: Math.round(((cpuSeconds(app.pid).total - cpuBefore.app) / seconds) * 100),
      store: Math.round(((cpuSeconds(store.pid).total - cpuBefore.store) / seconds) * 100),
    },
    loadAverage: {
      start: loadStart.map((v) => Math.round(v * 100) / 100),
      end: loadavg().map((v) => Math.round(v * 100) / 100),
    },
    samples: samples.filter((_, index) => index % 10 === 0),
  };
  console.log(JSON.stringify(result));
  if (process.env.BENCH_DRAIN_OUT) appendFileSync(process.env.BENCH_DRAIN_OUT, `${JSON.stringify(result)}\n`);
} finally {
  await client.close();
  await app.stop();
  await proxy.stop();
  await store.stop();
  removeDataDir(dataDir);
}
