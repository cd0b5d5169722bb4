import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { MongoClient } from 'mongodb';
import { EmbeddedMongo } from '../src/index.js';
import { compileLibrary, spawnStore, type StoreProcess as Child } from './compile.js';

/** These exercise the embedded store's own durability, so they never run against MONGODB_URI. */

function killHard(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.process.once('exit', () => resolve());
    child.process.kill('SIGKILL');
  });
}

/** Child processes and fsyncs are slow on a busy machine; these tests get more room. */
const SLOW = 60_000;

describe('persistence', () => {
  let buildDir: string;
  const dirs: string[] = [];
  const dataDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'embedded-mongo-data-'));
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    buildDir = await compileLibrary();
  }, SLOW);

  afterAll(() => {
    for (const dir of [...dirs, buildDir]) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'keeps every acknowledged write across kill -9 of the store process',
    async () => {
      const dir = dataDir();
      const first = await spawnStore(buildDir, ['--data-dir', dir]);
      const client = await MongoClient.connect(first.uri);
      const coll = client.db('durable').collection<{ _id: number; n: number; tag?: string }>('docs');
      await coll.createIndex({ n: 1 }, { unique: true });
      for (let i = 0; i < 50; i++) await coll.insertOne({ _id: i, n: i });
      await coll.insertMany(Array.from({ length: 450 }, (_, i) => ({ _id: 50 + i, n: 50 + i })));
      // Concurrent single writes exercise group commit (several records per fsync).
      await Promise.all(Array.from({ length: 100 }, (_, i) => coll.insertOne({ _id: 500 + i, n: 500 + i })));
      await coll.updateMany({ n: { $lt: 10 } }, { $set: { tag: 'updated' } });
      await coll.deleteMany({ n: { $gte: 590 } });
      await killHard(first);
      await client.close(true);

      const second = await spawnStore(buildDir, ['--data-dir', dir]);
      const again = await MongoClient.connect(second.uri);
      const reopened = again.db('durable').collection<{ _id: number; n: number }>('docs');
      expect(await reopened.countDocuments()).toBe(590);
      expect(await reopened.countDocuments({ tag: 'updated' })).toBe(10);
      expect((await reopened.indexes()).map((i) => i.name)).toEqual(['_id_', 'n_1']);
      await expect(reopened.insertOne({ _id: 1000, n: 5 })).rejects.toMatchObject({ code: 11000 });
      await again.close();
      await killHard(second);
    },
    SLOW,
  );

  it(
    'refuses a dataDir that a live process holds, and takes over after kill -9',
    async () => {
      const dir = dataDir();
      const holder = await spawnStore(buildDir, ['--data-dir', dir]);
      await expect(EmbeddedMongo.start({ dataDir: dir })).rejects.toThrow(/in use by process/);
      await killHard(holder);
      const store = await EmbeddedMongo.start({ dataDir: dir });
      await store.stop();
      expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    },
    SLOW,
  );

  it(
    'runs the compiled store in a worker thread',
    async () => {
      const dir = dataDir();
      const child = await spawnStore(buildDir, ['--data-dir', dir, '--in-worker']);
      const client = await MongoClient.connect(child.uri);
      await client.db('w').collection('c').insertOne({ hello: 'worker' });
      expect(
        await client
          .db('w')
          .collection('c')
          .findOne({}, { projection: { _id: 0 } }),
      ).toEqual({ hello: 'worker' });
      await client.close();
      await killHard(child);
      const restarted = await spawnStore(buildDir, ['--data-dir', dir]);
      const reader = await MongoClient.connect(restarted.uri);
      expect(await reader.db('w').collection('c').countDocuments()).toBe(1);
      await reader.close();
      await killHard(restarted);
    },
    SLOW,
  );

  async function writeAndStop(dir: string, count: number): Promise<void> {
    const store = await EmbeddedMongo.start({ dataDir: dir });
    const client = await MongoClient.connect(store.uri);
    for (let i = 0; i < count; i++)
      await client
        .db('t')
        .collection('c')
        .insertOne({ _id: i } as never);
    await client.close();
    await store.stop();
  }

  async function countAfterRestart(dir: string): Promise<number> {
    const store = await EmbeddedMongo.start({ dataDir: dir });
    const client = await MongoClient.connect(store.uri);
    const coll = client.db('t').collection('c');
    const count = await coll.countDocuments();
    await coll.insertOne({ afterRecovery: true });
    await client.close();
    await store.stop();
    return count;
  }

  it(
    'skips a torn or corrupt journal tail with a warning and keeps earlier writes',
    async () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        const dir = dataDir();
        await writeAndStop(dir, 5);
        const journal = join(dir, 'journal.bson');
        appendFileSync(journal, Buffer.from([0x55, 0x00, 0x00, 0x00, 0xde, 0xad]));
        expect(await countAfterRestart(dir)).toBe(5);
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('torn record'));
        // Cut the last record (the post-recovery insert) in half.
        truncateSync(journal, statSync(journal).size - 10);
        expect(await countAfterRestart(dir)).toBe(5);
        // Flip a payload byte of the last record: its checksum no longer matches.
        const bytes = readFileSync(journal);
        bytes[bytes.length - 3] ^= 0xff;
        writeFileSync(journal, bytes);
        expect(await countAfterRestart(dir)).toBe(5);
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('checksum mismatch'));
      } finally {
        warn.mockRestore();
      }
    },
    SLOW,
  );

  it(
    'compacts the journal into a snapshot and recovers from both',
    async () => {
      const dir = dataDir();
      const store = await EmbeddedMongo.start({ dataDir: dir, compactAfterBytes: 20_000 });
      const client = await MongoClient.connect(store.uri);
      const coll = client.db('snap').collection<{ _id: number; v: number }>('c');
      await coll.createIndex({ v: 1 });
      for (let batch = 0; batch < 10; batch++) {
        await coll.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: batch * 50 + i, v: i })));
      }
      await coll.deleteMany({ _id: { $lt: 100 } });
      await coll.updateMany({}, { $inc: { v: 1000 } });
      await client.close();
      await store.stop();
      expect(existsSync(join(dir, 'snapshot.bson'))).toBe(true);
      expect(statSync(join(dir, 'journal.bson')).size).toBeLessThan(statSync(join(dir, 'snapshot.bson')).size);

      const reopened = await EmbeddedMongo.start({ dataDir: dir });
      const reader = await MongoClient.connect(reopened.uri);
      const recovered = reader.db('snap').collection('c');
      expect(await recovered.countDocuments()).toBe(400);
      expect(await recovered.countDocuments({ v: { $gte: 1000 } })).toBe(400);
      expect((await recovered.indexes()).map((i) => i.name)).toEqual(['_id_', 'v_1']);
      await reader.close();
      await reopened.stop();
    },
    SLOW,
  );

  it(
    'snapshots documents larger than its write buffer beside small ones',
    async () => {
      const dir = dataDir();
      const store = await EmbeddedMongo.start({ dataDir: dir });
      const client = await MongoClient.connect(store.uri);
      const coll = client.db('big').collection<{ _id: number; text: string }>('c');
      // Small documents fill most of the 4 MiB buffer, then one of 5 MB cannot fit in any.
      await coll.insertMany(Array.from({ length: 3_000 }, (_, i) => ({ _id: i, text: 'y'.repeat(1_000) })));
      await coll.insertOne({ _id: -1, text: 'x'.repeat(5_000_000) });
      await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: 10_000 + i, text: 'z' })));
      await store.compact();
      await client.close();
      await store.stop();
      expect(statSync(join(dir, 'journal.bson')).size).toBe(0);

      const reopened = await EmbeddedMongo.start({ dataDir: dir });
      const reader = await MongoClient.connect(reopened.uri);
      const recovered = reader.db('big').collection<{ _id: number; text: string }>('c');
      expect(await recovered.countDocuments()).toBe(3_011);
      expect((await recovered.findOne({ _id: -1 }))?.text.length).toBe(5_000_000);
      expect((await recovered.findOne({ _id: 2_999 }))?.text).toBe('y'.repeat(1_000));
      await reader.close();
      await reopened.stop();
    },
    SLOW,
  );

  it(
    'lets the journal grow to the size of the last snapshot before compacting again',
    async () => {
      const dir = dataDir();
      const journal = join(dir, 'journal.bson');
      const snapshot = join(dir, 'snapshot.bson');
      const padding = 'x'.repeat(500);
      // Writes `documents` documents of ~0.5 kB in batches, with the store opened on `dir`.
      const write = async (first: number, documents: number, compactAtEnd = false): Promise<void> => {
        const store = await EmbeddedMongo.start({ dataDir: dir, compactAfterBytes: 20_000 });
        const client = await MongoClient.connect(store.uri);
        const coll = client.db('grow').collection<{ _id: number; padding: string }>('c');
        for (let start = first; start < first + documents; start += 20) {
          await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: start + i, padding })));
        }
        if (compactAtEnd) await store.compact();
        await client.close();
        await store.stop();
      };

      await write(0, 400, true);
      const snapshotBytes = statSync(snapshot).size;
      expect(snapshotBytes).toBeGreaterThan(200_000);
      expect(statSync(journal).size).toBe(0);

      // Half the snapshot's size again: past compactAfterBytes, not past the snapshot's size, so
      // the snapshot stays as it was and the journal keeps the new writes (a reopened store
      // knows the snapshot's size from its file).
      await write(400, 200);
      expect(statSync(snapshot).size).toBe(snapshotBytes);
      expect(statSync(journal).size).toBeGreaterThan(80_000);

      // Past the snapshot's size: compacted into a new, larger snapshot.
      await write(600, 300);
      expect(statSync(snapshot).size).toBeGreaterThan(snapshotBytes);
      expect(statSync(journal).size).toBeLessThan(statSync(snapshot).size);

      const reopened = await EmbeddedMongo.start({ dataDir: dir });
      const reader = await MongoClient.connect(reopened.uri);
      expect(await reader.db('grow').collection('c').countDocuments()).toBe(900);
      await reader.close();
      await reopened.stop();
    },
    SLOW,
  );
});
