import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoBulkWriteError, MongoClient, MongoServerError, type Document, type WriteError } from 'mongodb';
import { EmbeddedMongo } from '../src/index.js';
import { againstRealMongo, startTarget, type Target } from './harness.js';

const writeErrorsOf = (error: MongoBulkWriteError): WriteError[] => ([] as WriteError[]).concat(error.writeErrors);

async function failure(promise: Promise<unknown>): Promise<MongoServerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MongoServerError);
  return error as MongoServerError;
}

describe('index conformance', () => {
  let target: Target;

  beforeAll(async () => {
    target = await startTarget('indexes');
  });
  afterAll(async () => target.stop());

  it('creates, lists and drops indexes with MongoDB names and errors', async () => {
    const coll = target.db.collection('ddl');
    expect(await coll.createIndex({ a: 1, b: -1 })).toBe('a_1_b_-1');
    expect(await coll.createIndex({ c: 1 }, { name: 'by_c', unique: true })).toBe('by_c');
    expect(await coll.createIndex({ a: 1, b: -1 })).toBe('a_1_b_-1');
    const listed = (await coll.listIndexes().toArray()).map(({ v: _v, ...rest }) => rest);
    expect(listed).toEqual([
      { key: { _id: 1 }, name: '_id_' },
      { key: { a: 1, b: -1 }, name: 'a_1_b_-1' },
      { key: { c: 1 }, name: 'by_c', unique: true },
    ]);
    const conflict = await failure(coll.createIndex({ d: 1 }, { name: 'by_c' }));
    expect(conflict.code).toBe(86);
    await coll.dropIndex('a_1_b_-1');
    expect((await coll.indexes()).map((i) => i.name)).toEqual(['_id_', 'by_c']);
    expect((await failure(coll.dropIndex('nope'))).code).toBe(27);
    await coll.dropIndexes();
    expect((await coll.indexes()).map((i) => i.name)).toEqual(['_id_']);
    expect((await failure(target.db.collection('never_created').listIndexes().toArray())).code).toBe(26);
    await target.db.createCollection('explicit');
    expect((await failure(target.db.createCollection('explicit'))).code).toBe(48);
    const names = (await target.db.listCollections({ name: 'explicit' }, { nameOnly: true }).toArray()).map(
      (c) => c.name,
    );
    expect(names).toEqual(['explicit']);
    expect(await target.db.collection('explicit').drop()).toBe(true);
  });

  it('enforces a unique index with the real duplicate-key error', async () => {
    const users = target.db.collection('users');
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insertOne({ email: 'a@b.c' });
    const error = await failure(users.insertOne({ email: 'a@b.c' }));
    expect(error.code).toBe(11000);
    expect(error.message).toBe(
      `E11000 duplicate key error collection: ${target.dbName}.users index: email_1 dup key: { email: "a@b.c" }`,
    );
    expect(error.keyPattern).toEqual({ email: 1 });
    expect(error.keyValue).toEqual({ email: 'a@b.c' });
    const onId = await failure(users.insertOne({ _id: (await users.findOne({}))!._id, email: 'other' }));
    expect(onId.code).toBe(11000);
    expect(onId.message).toContain('index: _id_ dup key: { _id: ObjectId(');
  });

  it('reports ordered and unordered insertMany errors at the right index', async () => {
    const coll = target.db.collection('bulk');
    await coll.createIndex({ k: 1 }, { unique: true });
    const docs = (): Document[] => [{ k: 1 }, { k: 2 }, { k: 1 }, { k: 3 }, { k: 2 }, { k: 4 }];
    const ordered = await coll.insertMany(docs(), { ordered: true }).catch((e: unknown) => e);
    expect(ordered).toBeInstanceOf(MongoBulkWriteError);
    const orderedError = ordered as MongoBulkWriteError;
    expect(orderedError.code).toBe(11000);
    expect(orderedError.result.insertedCount).toBe(2);
    expect(orderedError.writeErrors).toHaveLength(1);
    expect(writeErrorsOf(orderedError)[0].index).toBe(2);
    expect(await coll.countDocuments()).toBe(2);
    await coll.deleteMany({});
    const unordered = (await coll
      .insertMany(docs(), { ordered: false })
      .catch((e: unknown) => e)) as MongoBulkWriteError;
    expect(unordered.result.insertedCount).toBe(4);
    const errors = writeErrorsOf(unordered);
    expect(errors.map((e) => [e.index, e.code])).toEqual([
      [2, 11000],
      [4, 11000],
    ]);
    expect(
      (
        await coll
          .find({}, { projection: { _id: 0 } })
          .sort({ k: 1 })
          .toArray()
      ).map((d) => d.k),
    ).toEqual([1, 2, 3, 4]);
  });

  it('enforces compound, partial and sparse uniqueness', async () => {
    const compound = target.db.collection('compound');
    await compound.createIndex({ site: 1, key: 1 }, { unique: true });
    await compound.insertMany([
      { site: 'a', key: 1 },
      { site: 'b', key: 1 },
    ]);
    const dup = await failure(compound.insertOne({ site: 'a', key: 1 }));
    expect(dup.message).toContain('index: site_1_key_1 dup key: { site: "a", key: 1 }');
    expect(dup.keyValue).toEqual({ site: 'a', key: 1 });

    const partial = target.db.collection('partial');
    await partial.createIndex(
      { eventId: 1 },
      { unique: true, partialFilterExpression: { eventId: { $type: 'string' } } },
    );
    await partial.insertMany([{ eventId: 'e1' }, { eventId: null }, { eventId: null }, { other: 1 }, { other: 2 }]);
    expect((await failure(partial.insertOne({ eventId: 'e1' }))).code).toBe(11000);

    const sparse = target.db.collection('sparse');
    await sparse.createIndex({ nick: 1 }, { unique: true, sparse: true });
    await sparse.insertMany([{ a: 1 }, { a: 2 }, { nick: 'n' }]);
    expect((await failure(sparse.insertOne({ nick: 'n' }))).code).toBe(11000);

    const missing = target.db.collection('missing_nonsparse');
    await missing.createIndex({ nick: 1 }, { unique: true });
    await missing.insertOne({ a: 1 });
    const nullDup = await failure(missing.insertOne({ a: 2 }));
    expect(nullDup.message).toContain('dup key: { nick: null }');
  });

  it('rejects duplicate keys produced by updates, upserts and findAndModify', async () => {
    const coll = target.db.collection('update_dups');
    await coll.createIndex({ slug: 1 }, { unique: true });
    await coll.insertMany([{ slug: 'a' }, { slug: 'b' }]);
    const viaUpdate = await failure(coll.updateOne({ slug: 'b' }, { $set: { slug: 'a' } }));
    expect(viaUpdate.code).toBe(11000);
    const viaUpsert = await failure(coll.updateOne({ slug: 'zzz', n: 1 }, { $set: { slug: 'a' } }, { upsert: true }));
    expect(viaUpsert.code).toBe(11000);
    const viaFam = await failure(coll.findOneAndUpdate({ slug: 'b' }, { $set: { slug: 'a' } }));
    expect(viaFam.code).toBe(11000);
    expect(viaFam.keyValue).toEqual({ slug: 'a' });
    const bulk = (await coll
      .bulkWrite(
        [
          { updateOne: { filter: { slug: 'b' }, update: { $set: { slug: 'a' } } } },
          { updateOne: { filter: { slug: 'b' }, update: { $set: { n: 1 } } } },
        ],
        { ordered: false },
      )
      .catch((e: unknown) => e)) as MongoBulkWriteError;
    expect(bulk).toBeInstanceOf(MongoBulkWriteError);
    expect(writeErrorsOf(bulk).map((e) => e.index)).toEqual([0]);
    expect(bulk.result.modifiedCount).toBe(1);
    expect(
      await coll
        .find({}, { projection: { _id: 0 } })
        .sort({ slug: 1 })
        .toArray(),
    ).toEqual([{ slug: 'a' }, { slug: 'b', n: 1 }]);
    const createOverDups = target.db.collection('dups_before_index');
    await createOverDups.insertMany([{ x: 1 }, { x: 1 }]);
    expect((await failure(createOverDups.createIndex({ x: 1 }, { unique: true }))).code).toBe(11000);
  });

  it('expires documents through a TTL index', async () => {
    const sessions = target.db.collection('ttl');
    await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
    await sessions.createIndex({ createdAt: 1 }, { expireAfterSeconds: 3600 });
    const past = new Date(Date.now() - 60_000);
    await sessions.insertMany([
      { name: 'expired', expiresAt: past },
      { name: 'future', expiresAt: new Date(Date.now() + 3_600_000) },
      { name: 'not-a-date', expiresAt: 'soon' },
      { name: 'young', createdAt: new Date() },
      { name: 'old', createdAt: new Date(Date.now() - 7_200_000) },
    ]);
    const ttl = (await sessions.indexes()).find((i) => i.name === 'expiresAt_1');
    expect(ttl?.expireAfterSeconds).toBe(0);
    // A real server's TTL monitor runs once a minute; the embedded one can be triggered.
    if (againstRealMongo) return;
    await target.embedded!.expireNow();
    expect((await sessions.find({}).sort({ name: 1 }).toArray()).map((d) => d.name)).toEqual([
      'future',
      'not-a-date',
      'young',
    ]);
  });
});

/**
 * The periodic TTL monitor itself (the case above calls expireNow()). Embedded only: a real
 * server's monitor runs every 60 s. Each case starts its own store for its `ttlIntervalMs`.
 */
describe('TTL monitor (embedded only)', () => {
  const embeddedOnly = againstRealMongo ? it.skip : it;

  async function withStore(ttlIntervalMs: number, run: (client: MongoClient) => Promise<void>): Promise<void> {
    const store = await EmbeddedMongo.start({ ttlIntervalMs });
    const client = await MongoClient.connect(store.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await run(client);
    } finally {
      await client.close();
      await store.stop();
    }
  }

  embeddedOnly('removes documents on its own once they expire, every ttlIntervalMs', async () => {
    await withStore(100, async (client) => {
      const sessions = client.db('ttl_monitor').collection('sessions');
      await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
      const expiresAt = new Date(Date.now() + 1000);
      await sessions.insertMany([
        { name: 'soon', expiresAt },
        { name: 'later', expiresAt: new Date(Date.now() + 3_600_000) },
        { name: 'no-date' },
      ]);
      expect(await sessions.countDocuments({ name: 'soon' })).toBe(1);

      const deadline = Date.now() + 5000;
      while ((await sessions.countDocuments({ name: 'soon' })) > 0 && Date.now() < deadline) await sleep(50);
      const goneAt = Date.now();
      expect(await sessions.countDocuments({ name: 'soon' })).toBe(0);
      expect(goneAt).toBeGreaterThanOrEqual(expiresAt.getTime()); // never before it expired
      expect((await sessions.find({}).sort({ name: 1 }).toArray()).map((d) => d.name)).toEqual(['later', 'no-date']);
    });
  });

  embeddedOnly('leaves expired documents alone until the monitor runs (expiry is not done on reads)', async () => {
    await withStore(60_000, async (client) => {
      const sessions = client.db('ttl_monitor').collection('idle');
      await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
      await sessions.insertOne({ name: 'expired', expiresAt: new Date(Date.now() - 60_000) });
      await sleep(300);
      expect((await sessions.find({}).toArray()).map((d) => d.name)).toEqual(['expired']);
    });
  });
});
