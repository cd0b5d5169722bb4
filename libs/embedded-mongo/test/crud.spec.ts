import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Long, MongoServerError, ObjectId, type Collection, type Document } from 'mongodb';
import { startTarget, type Target } from './harness.js';

interface Counter {
  _id: number;
  a: number;
  b: string;
  c: number;
  d: number;
  arr: number[];
  set: string[];
  t: Date;
  old?: string;
  gone?: boolean;
  m?: number;
  touched?: Date;
}

describe('CRUD conformance', () => {
  let target: Target;
  let items: Collection<Document>;

  beforeAll(async () => {
    target = await startTarget('crud');
  });
  afterAll(async () => target.stop());
  beforeEach(async () => {
    items = target.db.collection(`items_${expect.getState().currentTestName?.replace(/\W+/g, '_').slice(0, 40)}`);
    await items.deleteMany({});
  });

  it('inserts, finds by _id and by field, and generates ObjectIds', async () => {
    const result = await items.insertOne({ name: 'a', n: 1 });
    expect(result.insertedId).toBeInstanceOf(ObjectId);
    await items.insertMany([
      { _id: 'custom' as unknown as ObjectId, name: 'b', n: 2 },
      { name: 'c', n: 3 },
    ]);
    expect(await items.findOne({ _id: result.insertedId })).toEqual({ _id: result.insertedId, name: 'a', n: 1 });
    expect(await items.findOne({ _id: 'custom' as unknown as ObjectId })).toMatchObject({ name: 'b' });
    expect(await items.findOne({ name: 'zzz' })).toBeNull();
    expect(await items.countDocuments({ n: { $gte: 2 } })).toBe(2);
  });

  it('tells apart document _ids whose string values hold separators', async () => {
    const ids = [{ a: 'x,"b":sy' }, { a: 'x', b: 'y' }] as unknown as ObjectId[];
    await items.insertMany(ids.map((_id, n) => ({ _id, n })));
    for (const [n, _id] of ids.entries()) expect(await items.findOne({ _id })).toEqual({ _id, n });
  });

  it('sorts, skips, limits and projects', async () => {
    await items.insertMany(
      Array.from({ length: 10 }, (_, i) => ({
        _id: i as unknown as ObjectId,
        n: i % 3,
        label: `L${i}`,
        nested: { v: i },
      })),
    );
    const page = await items
      .find({}, { projection: { _id: 1, n: 1 } })
      .sort({ n: -1, _id: 1 })
      .skip(2)
      .limit(3)
      .toArray();
    expect(page).toEqual([
      { _id: 8, n: 2 },
      { _id: 1, n: 1 },
      { _id: 4, n: 1 },
    ]);
    const excluded = await items
      .find({ _id: 5 as unknown as ObjectId }, { projection: { label: 0, 'nested.v': 0 } })
      .toArray();
    expect(excluded).toEqual([{ _id: 5, n: 2, nested: {} }]);
    const dotted = await items
      .find({ 'nested.v': { $in: [1, 9] } }, { projection: { _id: 0, 'nested.v': 1 } })
      .sort({ 'nested.v': 1 })
      .toArray();
    expect(dotted).toEqual([{ nested: { v: 1 } }, { nested: { v: 9 } }]);
  });

  it('projects top-level field lists in stored order: inclusion, exclusion, _id alone', async () => {
    await items.insertOne({ _id: 1 as unknown as ObjectId, b: 2, a: 1, c: { d: 3 }, e: [1, 2] });
    const one = (projection: Document) => items.findOne({ _id: 1 as unknown as ObjectId }, { projection });
    expect(Object.entries((await one({ c: 1, b: 1 }))!)).toEqual([
      ['_id', 1],
      ['b', 2],
      ['c', { d: 3 }],
    ]);
    expect(await one({ _id: 0, e: true, missing: 1 })).toEqual({ e: [1, 2] });
    expect(await one({ _id: 1 })).toEqual({ _id: 1 });
    expect(await one({ _id: 0 })).toEqual({ b: 2, a: 1, c: { d: 3 }, e: [1, 2] });
    expect(await one({ a: 0, c: false })).toEqual({ _id: 1, b: 2, e: [1, 2] });
    await expect(one({ a: 1, b: 0 })).rejects.toThrow(MongoServerError);
  });

  it('sorts mixed types in BSON order and arrays by their min/max element', async () => {
    await items.insertMany([
      { _id: 1, v: [0, 5] },
      { _id: 2, v: 3 },
      { _id: 3, v: null },
      { _id: 4 },
      { _id: 5, v: 's' },
      { _id: 6, v: new ObjectId('000000000000000000000001') },
      { _id: 7, v: true },
      { _id: 8, v: new Date(0) },
    ] as Document[]);
    const order = async (direction: 1 | -1) =>
      (await items.find({}).sort({ v: direction, _id: 1 }).toArray()).map((d) => d._id);
    expect(await order(1)).toEqual([3, 4, 1, 2, 5, 6, 7, 8]);
    expect(await order(-1)).toEqual([8, 7, 6, 5, 1, 2, 3, 4]);
    const viaAggregate = await items.aggregate([{ $sort: { v: -1, _id: 1 } }, { $project: { _id: 1 } }]).toArray();
    expect(viaAggregate.map((d) => d._id)).toEqual([8, 7, 6, 5, 1, 2, 3, 4]);
  });

  it('answers sorted, limited finds the same whether or not an index fits the sort', async () => {
    await items.createIndex({ n: -1 });
    await items.insertMany([
      ...Array.from({ length: 50 }, (_, i) => ({ _id: i, n: (i * 37) % 50, odd: i % 2 === 1 })),
      { _id: 100 },
    ] as Document[]);
    const ids = async (filter: Document, sort: Document, skip: number, limit: number) =>
      (await items.find(filter).sort(sort).skip(skip).limit(limit).toArray()).map((d) => d._id);
    expect(await ids({}, { n: -1 }, 0, 3)).toEqual([27, 4, 31]);
    expect(await ids({}, { n: 1 }, 0, 3)).toEqual([100, 0, 23]);
    expect(await ids({ odd: true }, { n: 1 }, 1, 2)).toEqual([19, 15]);
    expect(await ids({}, { _id: -1 }, 0, 2)).toEqual([100, 49]);
  });

  it('iterates cursors across several batches with getMore', async () => {
    await items.insertMany(Array.from({ length: 250 }, (_, i) => ({ i })));
    const seen: number[] = [];
    for await (const doc of items.find({}, { batchSize: 40 }).sort({ i: 1 })) seen.push(doc.i as number);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(await items.find({ i: { $lt: 150 } }).toArray()).toHaveLength(150);
    const aggregated = await items
      .aggregate([{ $match: { i: { $gte: 10 } } }, { $sort: { i: -1 } }], { batchSize: 7 })
      .toArray();
    expect(aggregated).toHaveLength(240);
    expect(aggregated[0].i).toBe(249);
    const limited = await items.find({}).sort({ i: 1 }).limit(120).batchSize(50).toArray();
    expect(limited.map((d) => d.i)).toEqual(Array.from({ length: 120 }, (_, i) => i));
  });

  it('closes cursors early with killCursors', async () => {
    await items.insertMany(Array.from({ length: 30 }, (_, i) => ({ i })));
    const opened = await target.db.command(
      { find: items.collectionName, filter: {}, batchSize: 5 },
      { promoteLongs: false },
    );
    const id = opened.cursor.id as Long;
    expect(opened.cursor.firstBatch).toHaveLength(5);
    expect(id).toBeInstanceOf(Long);
    expect(id.isZero()).toBe(false);
    const killed = await target.db.command(
      { killCursors: items.collectionName, cursors: [id] },
      { promoteLongs: false },
    );
    expect(killed.cursorsKilled.map(String)).toEqual([String(id)]);
    const after = await target.db.command({ getMore: id, collection: items.collectionName }).catch((e: unknown) => e);
    expect((after as MongoServerError).code).toBe(43);
  });

  it('applies every update operator the app uses', async () => {
    const t0 = new Date('2024-01-01T00:00:00Z');
    // Typed so the driver accepts $push/$pull on the array fields.
    const counters = target.db.collection<Counter>(items.collectionName);
    await counters.insertOne({
      _id: 1,
      a: 1,
      b: 'x',
      c: 5,
      d: 10,
      arr: [1, 2, 3, 2],
      set: ['p'],
      old: 'o',
      gone: true,
      t: t0,
    });
    const result = await counters.updateOne(
      { _id: 1 },
      {
        $set: { b: 'y', 'deep.k': 1 },
        $unset: { gone: '' },
        $inc: { a: 2 },
        $min: { c: 3 },
        $max: { d: 20 },
        $push: { arr: 4 },
        $addToSet: { set: { $each: ['p', 'q'] } },
        $rename: { old: 'renamed' },
        $mul: { m: 3 },
      },
    );
    expect(result.matchedCount).toBe(1);
    expect(result.modifiedCount).toBe(1);
    await counters.updateOne({ _id: 1 }, { $pull: { arr: 2 }, $currentDate: { touched: true } });
    const doc = await counters.findOne({ _id: 1 });
    expect(doc).toMatchObject({
      a: 3,
      b: 'y',
      c: 3,
      d: 20,
      arr: [1, 3, 4],
      set: ['p', 'q'],
      renamed: 'o',
      m: 0,
      deep: { k: 1 },
    });
    expect(doc).not.toHaveProperty('gone');
    expect(doc).not.toHaveProperty('old');
    expect(doc?.touched).toBeInstanceOf(Date);
    const noop = await counters.updateOne({ _id: 1 }, { $set: { b: 'y' } });
    expect(noop.matchedCount).toBe(1);
    expect(noop.modifiedCount).toBe(0);
  });

  it('updates many, replaces, and pipeline-updates', async () => {
    await items.insertMany([
      { k: 'a', n: 1 },
      { k: 'a', n: 2 },
      { k: 'b', n: 3 },
    ]);
    const many = await items.updateMany({ k: 'a' }, { $inc: { n: 10 } });
    expect([many.matchedCount, many.modifiedCount]).toEqual([2, 2]);
    const replaced = await items.replaceOne({ k: 'b' }, { k: 'b', replaced: true });
    expect(replaced.modifiedCount).toBe(1);
    expect(await items.findOne({ k: 'b' }, { projection: { _id: 0 } })).toEqual({ k: 'b', replaced: true });
    await items.updateMany({ k: 'a' }, [{ $set: { double: { $multiply: ['$n', 2] } } }]);
    const doubled = await items
      .find({ k: 'a' }, { projection: { _id: 0, double: 1 } })
      .sort({ double: 1 })
      .toArray();
    expect(doubled).toEqual([{ double: 22 }, { double: 24 }]);
  });

  it('gives every document its own copy of a value set by one update, and counts unchanged ones as not modified', async () => {
    await items.insertMany([{ k: 'a' }, { k: 'a' }]);
    const first = await items.updateMany({ k: 'a' }, { $set: { meta: { tags: ['x'] } } });
    expect([first.matchedCount, first.modifiedCount]).toEqual([2, 2]);
    const again = await items.updateMany({ k: 'a' }, { $set: { meta: { tags: ['x'] } } });
    expect([again.matchedCount, again.modifiedCount]).toEqual([2, 0]);
    const [one] = await items.find({ k: 'a' }).limit(1).toArray();
    await items.updateOne({ _id: one._id }, { $push: { 'meta.tags': 'y' } } as Document);
    const tags = await items
      .find({ k: 'a' }, { projection: { _id: 0, tags: '$meta.tags' } })
      .sort({ _id: 1 })
      .toArray();
    expect(tags.map((doc) => doc.tags as string[]).sort((a, b) => a.length - b.length)).toEqual([['x'], ['x', 'y']]);
  });

  it('answers a large $in and a limited range read from an index with the same documents as a scan', async () => {
    const scanned = target.db.collection(`${items.collectionName}_scanned`);
    await scanned.deleteMany({});
    await items.createIndex({ n: 1 });
    const docs = Array.from({ length: 3_000 }, (_, i) => ({ _id: i, n: i % 2 ? i : String(i), tags: [i % 3] }));
    await items.insertMany(docs.map((doc) => ({ ...doc })) as Document[]);
    await scanned.insertMany(docs.map((doc) => ({ ...doc })) as Document[]);
    const both = async (read: (from: Collection<Document>) => Promise<unknown>): Promise<[unknown, unknown]> => [
      await read(items),
      await read(scanned),
    ];

    const wanted = Array.from({ length: 2_500 }, (_, i) => i * 2 + 1).concat(['4', 4, 3.0, new Date(0)] as never[]);
    const [indexed, scan] = await both((from) =>
      from
        .find({ n: { $in: wanted } })
        .sort({ _id: 1 })
        .toArray(),
    );
    expect(indexed).toEqual(scan);
    const odd: unknown[] = Array.from({ length: 1_500 }, (_, i) => i * 2 + 1);
    expect((indexed as Document[]).map((doc) => doc.n)).toEqual([1, 3, '4', ...odd.slice(2)]);

    const firstFew = await both((from) =>
      from
        .find({ n: { $gte: 10, $lt: 2_000 } }, { projection: { _id: 0, n: 1 } })
        .limit(3)
        .toArray(),
    );
    expect(firstFew[0]).toEqual(firstFew[1]);
    expect(firstFew[0]).toEqual([{ n: 11 }, { n: 13 }, { n: 15 }]);

    const counted = await both((from) => from.countDocuments({ n: { $in: [1, '2', 5] }, tags: 2 }));
    expect(counted).toEqual([2, 2]);
  });

  it('pipeline-updates many documents each from its own fields, counting unchanged ones as not modified', async () => {
    await items.insertMany([
      { k: 'a', n: 1, low: 5 },
      { k: 'a', n: 9, low: 5 },
      { k: 'a', n: 3, low: 3, gone: true },
    ]);
    const result = await items.updateMany({ k: 'a' }, [
      { $set: { low: { $min: ['$n', '$low'] } } },
      { $unset: 'gone' },
    ]);
    expect([result.matchedCount, result.modifiedCount]).toEqual([3, 2]);
    const rows = await items
      .find({ k: 'a' }, { projection: { _id: 0 } })
      .sort({ n: 1 })
      .toArray();
    expect(rows).toEqual([
      { k: 'a', n: 1, low: 1 },
      { k: 'a', n: 3, low: 3 },
      { k: 'a', n: 9, low: 5 },
    ]);
  });

  it('updates array elements with arrayFilters and the positional operator', async () => {
    await items.insertOne({
      _id: 1,
      grades: [80, 85, 90],
      items: [
        { k: 'a', n: 1 },
        { k: 'b', n: 2 },
      ],
    } as Document);
    await items.updateOne(
      { _id: 1 } as Document,
      { $set: { 'grades.$[g]': 100 } },
      { arrayFilters: [{ g: { $gte: 85 } }] },
    );
    await items.updateOne({ _id: 1, 'items.k': 'b' } as Document, { $inc: { 'items.$.n': 10 } });
    await items.updateOne({ _id: 1 } as Document, { $set: { 'items.$[].seen': true } });
    expect(await items.findOne({ _id: 1 } as Document)).toEqual({
      _id: 1,
      grades: [80, 100, 100],
      items: [
        { k: 'a', n: 1, seen: true },
        { k: 'b', n: 12, seen: true },
      ],
    });
  });

  it('rejects changing _id', async () => {
    await items.insertOne({ _id: 7 as unknown as ObjectId, v: 1 });
    const error = await items
      .updateOne({ _id: 7 as unknown as ObjectId }, { $set: { _id: 8 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(66);
  });

  it('upserts from equality fields, $setOnInsert and operators', async () => {
    const result = await items.updateOne(
      { site: 's', day: '2024-03-01', views: { $gte: 0 } },
      { $inc: { views: 1 }, $setOnInsert: { createdBy: 'upsert' } },
      { upsert: true },
    );
    expect(result.upsertedCount).toBe(1);
    expect(result.upsertedId).toBeInstanceOf(ObjectId);
    expect(await items.findOne({ site: 's' }, { projection: { _id: 0 } })).toEqual({
      site: 's',
      day: '2024-03-01',
      views: 1,
      createdBy: 'upsert',
    });
    await items.updateOne(
      { site: 's', day: '2024-03-01' },
      { $inc: { views: 1 }, $setOnInsert: { createdBy: 'again' } },
      { upsert: true },
    );
    expect(await items.findOne({ site: 's' }, { projection: { _id: 0 } })).toEqual({
      site: 's',
      day: '2024-03-01',
      views: 2,
      createdBy: 'upsert',
    });
    const nested = await items.updateOne(
      { 'meta.key': 'k1', $and: [{ kind: 'x' }] },
      { $set: { v: 1 } },
      { upsert: true },
    );
    expect(nested.upsertedCount).toBe(1);
    expect(await items.findOne({ kind: 'x' }, { projection: { _id: 0 } })).toEqual({
      meta: { key: 'k1' },
      kind: 'x',
      v: 1,
    });
    await items.replaceOne({ _id: 'r1' as unknown as ObjectId }, { body: 1 }, { upsert: true });
    expect(await items.findOne({ _id: 'r1' as unknown as ObjectId })).toEqual({ _id: 'r1', body: 1 });
  });

  it('findOneAndUpdate / findOneAndDelete / findOneAndReplace', async () => {
    await items.insertMany([
      { q: 1, v: 'a' },
      { q: 2, v: 'b' },
      { q: 3, v: 'c' },
    ]);
    const before = await items.findOneAndUpdate(
      { q: { $gte: 2 } },
      { $set: { v: 'B' } },
      { sort: { q: -1 }, projection: { _id: 0 } },
    );
    expect(before).toEqual({ q: 3, v: 'c' });
    const after = await items.findOneAndUpdate(
      { q: 1 },
      { $set: { v: 'A' } },
      { returnDocument: 'after', projection: { _id: 0, v: 1 } },
    );
    expect(after).toEqual({ v: 'A' });
    const upserted = await items.findOneAndUpdate(
      { q: 9 },
      { $setOnInsert: { v: 'new' } },
      { upsert: true, returnDocument: 'after', projection: { _id: 0 } },
    );
    expect(upserted).toEqual({ q: 9, v: 'new' });
    const missing = await items.findOneAndUpdate({ q: 99 }, { $set: { v: 'x' } });
    expect(missing).toBeNull();
    const removed = await items.findOneAndDelete({ q: 2 }, { projection: { _id: 0 } });
    expect(removed).toEqual({ q: 2, v: 'b' });
    const replaced = await items.findOneAndReplace(
      { q: 1 },
      { q: 1, v: 'R' },
      { returnDocument: 'after', projection: { _id: 0 } },
    );
    expect(replaced).toEqual({ q: 1, v: 'R' });
    const full = await items.findOneAndUpdate({ q: 3 }, { $set: { v: 'x' } }, { includeResultMetadata: true });
    expect(full.ok).toBe(1);
    expect(full.lastErrorObject).toMatchObject({ n: 1, updatedExisting: true });
  });

  it('deletes one and many', async () => {
    await items.insertMany([{ g: 1 }, { g: 1 }, { g: 2 }, { g: 3 }]);
    expect((await items.deleteOne({ g: 1 })).deletedCount).toBe(1);
    expect((await items.deleteMany({ g: { $gte: 1 } })).deletedCount).toBe(3);
    expect(await items.countDocuments()).toBe(0);
  });

  it('counts and lists distinct values', async () => {
    await items.insertMany([{ c: 'x', tags: ['a', 'b'] }, { c: 'y', tags: ['b'] }, { c: 'x', tags: [] }, { c: 'z' }]);
    expect(await items.countDocuments({ c: 'x' })).toBe(2);
    expect(await items.countDocuments({}, { skip: 1, limit: 2 })).toBe(2);
    expect(await items.estimatedDocumentCount()).toBe(4);
    expect((await items.distinct('c')).sort()).toEqual(['x', 'y', 'z']);
    expect((await items.distinct('tags')).sort()).toEqual(['a', 'b']);
    expect(await items.distinct('c', { tags: 'b' })).toEqual(expect.arrayContaining(['x', 'y']));
  });

  it('queries with operators: $or, $exists, $regex, $elemMatch, $size, $type, $expr, $not, $nin, $all', async () => {
    await items.insertMany([
      { _id: 1 as unknown as ObjectId, s: 'apple', n: 5, arr: [{ k: 1, v: 'a' }], tags: ['x', 'y'] },
      { _id: 2 as unknown as ObjectId, s: 'banana', n: 10, arr: [{ k: 2, v: 'b' }], tags: ['x'] },
      { _id: 3 as unknown as ObjectId, s: 'cherry', m: 1, tags: [] },
    ]);
    const ids = async (filter: Document) => (await items.find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);
    expect(await ids({ $or: [{ s: 'apple' }, { n: 10 }] })).toEqual([1, 2]);
    expect(await ids({ n: { $exists: false } })).toEqual([3]);
    expect(await ids({ s: { $regex: '^b' } })).toEqual([2]);
    expect(await ids({ s: /rr/ })).toEqual([3]);
    expect(await ids({ arr: { $elemMatch: { k: 2, v: 'b' } } })).toEqual([2]);
    expect(await ids({ tags: { $size: 2 } })).toEqual([1]);
    expect(await ids({ n: { $type: 'number' } })).toEqual([1, 2]);
    expect(await ids({ $expr: { $gt: ['$n', 6] } })).toEqual([2]);
    expect(await ids({ n: { $not: { $gt: 6 } } })).toEqual([1, 3]);
    expect(await ids({ s: { $nin: ['apple', 'cherry'] } })).toEqual([2]);
    expect(await ids({ tags: { $all: ['x', 'y'] } })).toEqual([1]);
    expect(await ids({ n: Long.fromNumber(10) })).toEqual([2]);
  });

  it('ignores w:0 acknowledgement fields and answers later commands', async () => {
    await items.insertOne({ fire: 'and-forget' }, { writeConcern: { w: 0 } });
    await items.insertOne({ fire: 'acknowledged' }, { writeConcern: { w: 1, j: true } });
    expect(await items.countDocuments({ fire: { $exists: true } })).toBe(2);
  });

  it('returns CommandNotFound for unknown commands and errors for bad operators', async () => {
    const unknown = await target.db.command({ definitelyNotACommand: 1 }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(MongoServerError);
    expect((unknown as MongoServerError).code).toBe(59);
    expect((unknown as MongoServerError).message).toContain("no such command: 'definitelyNotACommand'");
    const badQuery = await items
      .find({ a: { $nope: 1 } })
      .toArray()
      .catch((e: unknown) => e);
    expect(badQuery).toBeInstanceOf(MongoServerError);
    const badStage = await items
      .aggregate([{ $nope: {} }])
      .toArray()
      .catch((e: unknown) => e);
    expect(badStage).toBeInstanceOf(MongoServerError);
    expect(await target.db.command({ ping: 1 })).toMatchObject({ ok: 1 });
  });
});
