import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MongoClient, type Document } from 'mongodb';
import { EmbeddedMongo } from '../src/index.js';

/**
 * Throughput and latency of the embedded store as the application sees it: through the
 * official driver over TCP, with the store in its default mode (a worker thread when run
 * from compiled output, as here). Run with `node libs/embedded-mongo/bench/run.mjs`.
 */

const quick = process.argv.includes('--quick');
const SIZES = quick
  ? { single: 500, batched: 20_000, small: 10_000, large: 100_000, group: 20_000, lookups: 500 }
  : { single: 2_000, batched: 100_000, small: 10_000, large: 1_000_000, group: 100_000, lookups: 2_000 };
const SITES = 50;

interface Row {
  metric: string;
  value: number;
  unit: string;
  note?: string;
}

const rows: Row[] = [];
const record = (metric: string, value: number, unit: string, note?: string): void => {
  rows.push({ metric, value: Math.round(value * 100) / 100, unit, note });
  console.log(`${metric}: ${value.toFixed(2)} ${unit}${note ? ` (${note})` : ''}`);
};

function hit(i: number): Document {
  return {
    visitor: `v${i}`,
    site: `site${i % SITES}`,
    ms: (i * 7919) % 1000,
    path: `/p/${i % 100}`,
    at: new Date(1_700_000_000_000 + i * 1000),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function withStore<T>(options: { dataDir?: string }, body: (client: MongoClient) => Promise<T>): Promise<T> {
  const store = await EmbeddedMongo.start(options);
  const client = await MongoClient.connect(store.uri);
  try {
    return await body(client);
  } finally {
    await client.close();
    await store.stop();
  }
}

async function insertThroughput(dataDir: string | undefined, label: string): Promise<void> {
  await withStore({ dataDir }, async (client) => {
    const coll = client.db('bench').collection('inserts');
    let start = performance.now();
    for (let i = 0; i < SIZES.single; i++) await coll.insertOne(hit(i));
    record(`insertOne sequential, ${label}`, SIZES.single / ((performance.now() - start) / 1000), 'docs/s');
    start = performance.now();
    for (let i = 0; i < SIZES.batched; i += 1000) {
      await coll.insertMany(Array.from({ length: 1000 }, (_, j) => hit(SIZES.single + i + j)));
    }
    record(`insertMany batches of 1000, ${label}`, SIZES.batched / ((performance.now() - start) / 1000), 'docs/s');
  });
}

async function loadLookupStore(size: number): Promise<{ store: EmbeddedMongo; client: MongoClient; seconds: number }> {
  const store = await EmbeddedMongo.start();
  const client = await MongoClient.connect(store.uri);
  const coll = client.db('bench').collection('lookups');
  await coll.createIndex({ visitor: 1 }, { unique: true });
  const start = performance.now();
  for (let i = 0; i < size; i += 10_000) {
    await coll.insertMany(Array.from({ length: Math.min(10_000, size - i) }, (_, j) => hit(i + j)));
  }
  return { store, client, seconds: (performance.now() - start) / 1000 };
}

/**
 * Both stores are loaded first and then queried alternately, so that both sizes are sampled
 * under the same machine load; only then is their latency ratio meaningful.
 */
async function lookupLatency(): Promise<void> {
  const sizes = [SIZES.small, SIZES.large];
  const stores: Array<Awaited<ReturnType<typeof loadLookupStore>>> = [];
  for (const size of sizes) stores.push(await loadLookupStore(size));
  const samples: number[][] = sizes.map(() => []);
  const lookup = async (which: number, n: number): Promise<number> => {
    const key = `v${(n * 104_729) % sizes[which]}`;
    const start = performance.now();
    const doc = await stores[which].client.db('bench').collection('lookups').findOne({ visitor: key });
    if (!doc) throw new Error(`lookup of ${key} found nothing`);
    return performance.now() - start;
  };
  // Warm the JIT and the connections first.
  for (let n = 0; n < 300; n++) for (let which = 0; which < sizes.length; which++) await lookup(which, n);
  for (let n = 0; n < SIZES.lookups; n++) {
    for (let which = 0; which < sizes.length; which++) samples[which].push(await lookup(which, n));
  }
  const p50s = samples.map((list, which) => {
    list.sort((a, b) => a - b);
    const p50 = percentile(list, 50);
    const note = `p99 ${(percentile(list, 99) * 1000).toFixed(0)} µs; loaded in ${stores[which].seconds.toFixed(1)} s`;
    record(`indexed point lookup p50 at ${sizes[which].toLocaleString('en')} docs`, p50 * 1000, 'µs', note);
    return p50;
  });
  record(
    'point lookup p50 ratio large/small',
    p50s[1] / p50s[0],
    'x',
    'close to 1 means the index, not a scan, answers',
  );
  for (const { client, store } of stores) {
    await client.close();
    await store.stop();
  }
}

async function groupPipeline(): Promise<void> {
  const docs = Array.from({ length: SIZES.group }, (_, i) => hit(i));
  await withStore({}, async (client) => {
    const coll = client.db('bench').collection('group');
    for (let i = 0; i < docs.length; i += 10_000)
      await coll.insertMany(docs.slice(i, i + 10_000).map((d) => ({ ...d })));
    const pipeline = [
      {
        $group: {
          _id: '$site',
          views: { $sum: 1 },
          totalMs: { $sum: '$ms' },
          avgMs: { $avg: '$ms' },
          maxMs: { $max: '$ms' },
        },
      },
      { $sort: { _id: 1 } },
    ];
    const runs: number[] = [];
    let result: Document[] = [];
    for (let r = 0; r < 3; r++) {
      const start = performance.now();
      result = await coll.aggregate(pipeline).toArray();
      runs.push(performance.now() - start);
    }
    const storeMs = Math.min(...runs);
    const loopRuns: number[] = [];
    let loopResult: Document[] = [];
    for (let r = 0; r < 3; r++) {
      const start = performance.now();
      const groups = new Map<string, { views: number; totalMs: number; maxMs: number }>();
      for (const doc of docs) {
        const group = groups.get(doc.site as string) ?? { views: 0, totalMs: 0, maxMs: -Infinity };
        group.views++;
        group.totalMs += doc.ms as number;
        group.maxMs = Math.max(group.maxMs, doc.ms as number);
        groups.set(doc.site as string, group);
      }
      loopResult = [...groups]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([_id, g]) => ({ _id, views: g.views, totalMs: g.totalMs, avgMs: g.totalMs / g.views, maxMs: g.maxMs }));
      loopRuns.push(performance.now() - start);
    }
    if (JSON.stringify(result) !== JSON.stringify(loopResult))
      throw new Error('$group result differs from the plain loop');
    const loopMs = Math.min(...loopRuns);
    record(
      `$group over ${SIZES.group.toLocaleString('en')} docs via driver`,
      storeMs,
      'ms',
      'best of 3, includes wire round trip',
    );
    record(`same work as a plain JS loop`, loopMs, 'ms', `store is ${(storeMs / loopMs).toFixed(0)}x slower`);
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'embedded-mongo-bench-data-'));
try {
  await insertThroughput(undefined, 'memory only');
  await insertThroughput(dataDir, 'journaled (fdatasync per acknowledged write)');
  await lookupLatency();
  await groupPipeline();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

const resultsDir = process.env.BENCH_RESULTS_DIR ?? join(process.cwd(), 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
// Latencies depend heavily on how busy the machine is; the load average says how busy it was.
const environment = {
  node: process.version,
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  loadAverage: loadavg().map((l) => Math.round(l * 10) / 10),
  quick,
  date: new Date().toISOString(),
};
writeFileSync(join(resultsDir, 'embedded-mongo.json'), `${JSON.stringify({ environment, results: rows }, null, 2)}\n`);
const table = [
  '# embedded-mongo benchmark',
  '',
  `Node ${environment.node}, ${environment.cpus} CPUs (${environment.cpu ?? 'unknown'}), load average ${environment.loadAverage.join(' / ')}, ${environment.date}${quick ? ', quick mode' : ''}.`,
  '',
  '| metric | value | unit | note |',
  '|---|---:|---|---|',
  ...rows.map((row) => `| ${row.metric} | ${row.value} | ${row.unit} | ${row.note ?? ''} |`),
  '',
].join('\n');
writeFileSync(join(resultsDir, 'embedded-mongo.md'), table);
console.log(`\n${table}`);
