import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient, type Document } from 'mongodb';
import { compileLibrary, spawnStore, type StoreProcess as Child } from './compile.js';

/**
 * The driver's monitor sends `hello` every heartbeatFrequencyMS and gives up on one after
 * connectTimeoutMS; a lost heartbeat makes it interrupt every operation in flight. A long
 * command must therefore never delay the store's answer to a heartbeat. Runs the compiled store
 * in its own process as the CLI starts it by default (engine in a worker thread, as `npm start` runs it too), so a blocked engine
 * cannot block the test's driver either.
 */

const SLOW = 120_000;
const DOCS = 1_500;

/**
 * Quadratic on purpose: every document counts the documents below it through an uncorrelated
 * `$expr` sub-pipeline that no index can answer, so the engine is busy for seconds.
 */
const LONG_PIPELINE: Document[] = [
  {
    $lookup: {
      from: 'numbers',
      let: { v: '$v' },
      pipeline: [{ $match: { $expr: { $lt: ['$v', '$$v'] } } }, { $count: 'n' }],
      as: 'below',
    },
  },
  { $group: { _id: null, pairs: { $sum: { $ifNull: [{ $first: '$below.n' }, 0] } } } },
];

describe('monitoring while a long command runs (worker thread)', () => {
  let buildDir: string;
  let store: Child;

  beforeAll(async () => {
    buildDir = await compileLibrary();
    // No flag: the CLI's default must be the one that keeps heartbeats answered.
    store = await spawnStore(buildDir, []);
    const client = await MongoClient.connect(store.uri);
    await client
      .db('monitoring')
      .collection('numbers')
      .insertMany(Array.from({ length: DOCS }, (_, v) => ({ v })));
    await client.close();
  }, SLOW);

  afterAll(() => {
    store?.process.kill('SIGKILL');
    rmSync(buildDir, { recursive: true, force: true });
  });

  it(
    'answers hello on a new connection before the long command finishes',
    async () => {
      const client = await MongoClient.connect(store.uri, { maxPoolSize: 4 });
      let hello: Document;
      let helloAt: number;
      let finished: { result: Document[]; at: number };
      try {
        const db = client.db('monitoring');
        const started = performance.now();
        const running = db
          .collection('numbers')
          .aggregate(LONG_PIPELINE)
          .toArray()
          .then((result) => ({ result, at: performance.now() - started }));
        // Give the aggregate time to reach the engine, then ask on another connection.
        await new Promise((resolve) => setTimeout(resolve, 300));
        hello = await db.admin().command({ hello: 1 });
        helloAt = performance.now() - started;
        finished = await running;
      } finally {
        await client.close(true);
      }

      expect(hello.isWritablePrimary).toBe(true);
      expect(finished.result).toEqual([{ _id: null, pairs: (DOCS * (DOCS - 1)) / 2 }]);
      // The command has to be long for the comparison to mean anything.
      expect(finished.at).toBeGreaterThan(1_500);
      expect(helloAt).toBeLessThan(finished.at);
    },
    SLOW,
  );

  it(
    'keeps a short-heartbeat client from interrupting its own long operation',
    async () => {
      const client = await MongoClient.connect(store.uri, {
        heartbeatFrequencyMS: 500,
        connectTimeoutMS: 1_000,
        serverSelectionTimeoutMS: 1_000,
      });
      const failedHeartbeats: string[] = [];
      client.on('serverHeartbeatFailed', (event) => failedHeartbeats.push(String(event.failure)));
      const started = performance.now();
      let result: Document[];
      try {
        result = await client.db('monitoring').collection('numbers').aggregate(LONG_PIPELINE).toArray();
      } finally {
        await client.close(true);
      }
      const elapsed = performance.now() - started;

      expect(result).toEqual([{ _id: null, pairs: (DOCS * (DOCS - 1)) / 2 }]);
      // Longer than a heartbeat interval plus its timeout: a blocked monitor would have failed.
      expect(elapsed).toBeGreaterThan(1_500);
      expect(failedHeartbeats).toEqual([]);
    },
    SLOW,
  );
});
