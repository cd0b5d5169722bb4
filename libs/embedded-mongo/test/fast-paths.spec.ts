import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Binary,
  BSONSymbol,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  type Collection,
  type Document,
} from 'mongodb';
import fc from 'fast-check';
import { update as mingoUpdate } from 'mingo/updater';
import { filterCacheKey, normalize } from '../src/mingo-compat.js';
import { canonicalKey, sameCanonicalKey } from '../src/bson-order.js';
import { Collection as StoredCollection } from '../src/catalog.js';
import type { IndexSpec } from '../src/indexes.js';
import { FrameBuffer, frame } from '../src/journal.js';
import { cloneDocument } from '../src/paths.js';
import { applyUpdate, buildUpsert } from '../src/update.js';
import { startTarget, type Target } from './harness.js';

/** Rows with the plain `_id`s these tests compare (numbers and strings). */
interface Row {
  _id: number | string;
  [field: string]: unknown;
}

/**
 * The store's shortcuts on the write path (compiled filters kept between statements, update
 * operators applied without mingo's `update()`, `_id` lookups from the document map) must
 * answer exactly as the general path does: these run against a real MongoDB too (MONGODB_URI).
 */
describe('write-path shortcuts', () => {
  let target: Target;
  let items: Collection<Row>;

  beforeAll(async () => {
    target = await startTarget('fastpaths');
  });
  afterAll(async () => target.stop());
  /** The same collection, for update documents the driver's types cannot check against `Row`. */
  const untyped = (): Collection<{ _id: string } & Document> => target.db.collection(items.collectionName);
  beforeEach(async () => {
    items = target.db.collection(`items_${expect.getState().currentTestName?.replace(/\W+/g, '_').slice(0, 40)}`);
    await items.deleteMany({});
  });

  it('never answers a filter with another one compiled earlier that differs only in types or values', async () => {
    await items.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: '1' },
      { _id: 3, v: new Date(1) },
      { _id: 4, v: true },
      { _id: 5, v: null },
      { _id: 6, v: [1, 2] },
    ]);
    const ids = async (filter: Document): Promise<unknown[]> =>
      (await items.find(filter).sort({ _id: 1 }).toArray()).map((doc) => doc._id);
    // Each filter twice: the second answer comes from the kept compiled filter.
    for (let round = 0; round < 2; round++) {
      expect(await ids({ v: 1 })).toEqual([1, 6]);
      expect(await ids({ v: '1' })).toEqual([2]);
      expect(await ids({ v: new Date(1) })).toEqual([3]);
      expect(await ids({ v: true })).toEqual([4]);
      expect(await ids({ v: null })).toEqual([5]);
      expect(await ids({ v: [1, 2] })).toEqual([6]);
      expect(await ids({ v: { $gte: 1 } })).toEqual([1, 6]);
      expect(await ids({ v: { $gte: '1' } })).toEqual([2]);
      expect(await ids({ v: { $not: { $gte: 2 } } })).toEqual([1, 2, 3, 4, 5]);
      expect(await ids({ v: { $not: { $gte: 1 } } })).toEqual([2, 3, 4, 5]);
    }
  });

  it('applies several update operators in one statement, upserting or updating, as one update', async () => {
    const apply = (id: string, batch: number, inc: number, ts: number) =>
      untyped().updateOne(
        { _id: id, lastBatch: { $not: { $gte: batch } } },
        {
          $setOnInsert: { site: 's', day: '2026-12-07' },
          $inc: { hits: inc, 'nested.n': 1 },
          $set: { lastBatch: batch },
          $min: { firstTs: new Date(ts) },
          $max: { lastTs: new Date(ts) },
        },
        { upsert: true },
      );
    await apply('r', 1, 3, 5_000);
    await apply('r', 2, 4, 1_000);
    await apply('r', 3, 5, 9_000);
    // Replaying batch 3: the filter fails, the upsert meets the same _id.
    await expect(apply('r', 3, 5, 9_000)).rejects.toMatchObject({ code: 11000 });
    expect(await items.findOne({ _id: 'r' })).toEqual({
      _id: 'r',
      site: 's',
      day: '2026-12-07',
      hits: 12,
      nested: { n: 3 },
      lastBatch: 3,
      firstTs: new Date(1_000),
      lastTs: new Date(9_000),
    });
  });

  it('still refuses several update operators on conflicting paths', async () => {
    await items.insertOne({ _id: 'c', a: { b: 1 }, n: 1 });
    for (const update of [
      { $set: { a: 2 }, $inc: { 'a.b': 1 } },
      { $inc: { n: 1 }, $max: { n: 5 } },
      { $set: { x: 1 }, $unset: { x: '' } },
    ]) {
      await expect(untyped().updateOne({ _id: 'c' }, update)).rejects.toThrow(/conflict/);
    }
    expect(await items.findOne({ _id: 'c' })).toEqual({ _id: 'c', a: { b: 1 }, n: 1 });
  });

  it('tests the rest of an _id filter, and reports its unknown operators even when no document has the _id', async () => {
    await items.insertMany([
      { _id: 1, n: 1 },
      { _id: '1', n: 2 },
    ]);
    expect(await items.findOne({ _id: 1, n: 2 })).toBeNull();
    expect(await items.findOne({ _id: 1, n: 1 })).toEqual({ _id: 1, n: 1 });
    expect(await items.findOne({ _id: Long.fromNumber(1), n: { $lt: 5 } })).toEqual({
      _id: 1,
      n: 1,
    });
    expect(await items.findOne({ _id: '1', $or: [{ n: 2 }, { n: 9 }] })).toEqual({
      _id: '1',
      n: 2,
    });
    expect((await items.updateOne({ _id: 1, n: { $gt: 1 } }, { $set: { m: 1 } })).matchedCount).toBe(0);
    await expect(items.findOne({ _id: 'missing', n: { $bogus: 1 } })).rejects.toMatchObject({
      code: 2,
    });
  });

  it('finds each listed _id once, of its own type, in an $in', async () => {
    await items.insertMany([{ _id: 1 }, { _id: '1' }, { _id: 'b' }]);
    const found = await items.find({ _id: { $in: [1, 1.0, 'b', 'b', 'zz'] } }).toArray();
    expect(found.map((doc) => doc._id).sort()).toEqual([1, 'b']);
    expect(await items.countDocuments({ _id: { $in: ['1'] } })).toBe(1);
  });

  it('looks up BinData _ids and index keys by length, subtype and bytes, as MongoDB equates them', async () => {
    // Rows keyed by BinData (the rollups' hashed _ids) are looked up by key and by index range
    // without testing the value again: every near miss must stay a miss.
    const bin = (bytes: number[], subtype = 0): Binary => new Binary(Buffer.from(bytes), subtype);
    const variants = [bin([1, 2]), bin([1, 2], 4), bin([1, 2, 0]), bin([1]), bin([2, 1]), bin([])];
    const binaries = target.db.collection<{ _id: Binary; k: Binary; n: number }>(items.collectionName);
    await binaries.createIndex({ k: 1 });
    await binaries.insertMany(variants.map((value, n) => ({ _id: value, k: value, n })));
    const found = async (filter: Document): Promise<number[]> =>
      (await binaries.find(filter).toArray()).map((doc) => doc.n).sort();
    for (const [n, value] of variants.entries()) {
      const copy = bin([...value.buffer], value.sub_type);
      expect(await found({ _id: copy })).toEqual([n]);
      expect(await found({ _id: { $eq: copy } })).toEqual([n]);
      expect(await found({ _id: { $in: [copy] } })).toEqual([n]);
      expect(await found({ k: copy })).toEqual([n]);
      expect(await found({ _id: copy, n: { $ne: n } })).toEqual([]);
    }
    expect(await found({ _id: { $in: [bin([1, 2]), bin([1]), bin([9])] } })).toEqual([0, 3]);
    expect(await found({ k: { $in: [bin([1, 2], 4), bin([2, 1]), bin([1, 2], 5)] } })).toEqual([1, 4]);
    const upsert = (value: Binary, batch: number) =>
      binaries.updateOne({ _id: value, n: { $not: { $gte: batch } } }, { $inc: { n: 10 } }, { upsert: true });
    expect(await upsert(bin([1, 2], 4), 5)).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    expect(await binaries.findOne({ _id: bin([1, 2], 4) })).toMatchObject({ n: 11 });
    expect(await upsert(bin([7]), 5)).toMatchObject({ matchedCount: 0, upsertedCount: 1 });
    await expect(upsert(bin([1, 2, 0]), 1)).rejects.toMatchObject({ code: 11000 });
  });

  it('reads { $eq: x } and a one-element $in on _id as x, with the rest of the filter, and nothing else so', async () => {
    await untyped().insertMany([
      { _id: 'a', n: 1 },
      { _id: 'b', n: 2 },
    ]);
    const ids = async (filter: Document): Promise<unknown[]> =>
      (await untyped().find(filter).toArray()).map((doc) => doc._id).sort();
    expect(await ids({ _id: { $in: ['a'] } })).toEqual(['a']);
    expect(await ids({ _id: { $eq: 'b' } })).toEqual(['b']);
    expect(await ids({ _id: { $in: ['a'] }, n: 2 })).toEqual([]);
    expect(await ids({ _id: { $in: ['b'] }, n: { $gte: 2 } })).toEqual(['b']);
    expect(await ids({ _id: { $in: ['a'], $ne: 'a' } })).toEqual([]);
    expect(await ids({ _id: { $in: [/^b/] } })).toEqual(['b']);
    expect(await ids({ _id: { $in: [null] } })).toEqual([]);
    const multi = await untyped().updateMany({ _id: { $in: ['a'] } }, { $set: { visit: 'v' } });
    expect(multi).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect(await untyped().findOne({ _id: 'a' })).toEqual({ _id: 'a', n: 1, visit: 'v' });
  });
});

describe('index entries across an update that leaves their fields alone', () => {
  const SPECS: IndexSpec[] = [
    { v: 2, key: { a: 1 }, name: 'a' },
    { v: 2, key: { a: 1, 'n.x': -1 }, name: 'a_nx' },
    { v: 2, key: { b: 1 }, name: 'b_sparse', sparse: true },
    {
      v: 2,
      key: { c: 1 },
      name: 'c_partial',
      partialFilterExpression: { $or: [{ d: { $exists: true } }, { 'n.x': 1 }] },
    },
    { v: 2, key: { b: 1, c: 1 }, name: 'bc_unique', unique: true },
  ];
  const value = fc.oneof(
    fc.integer({ min: 0, max: 2 }),
    fc.constantFrom('x', null, undefined, -0),
    fc.date({ min: new Date(0), max: new Date(2), noInvalidDate: true }),
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
    fc.record({ x: fc.integer({ min: 0, max: 2 }) }, { noNullPrototype: true }),
  );
  const FIELDS = ['a', 'b', 'c', 'd', 'n', 'other'];
  /** A change to one top-level field: a new value, the same value as an equal copy, or removal. */
  const change = fc.record({
    id: fc.integer({ min: 0, max: 5 }),
    field: fc.constantFrom(...FIELDS),
    kind: fc.constantFrom('set', 'copy', 'unset'),
    value,
  });
  const entries = (collection: StoredCollection): string[][] =>
    [...collection.indexes.values()].map((index) => {
      const listed: string[] = [];
      index.walk(false, (entry) => listed.push(`${canonicalKey(entry.key)} ${entry.id}`) > 0);
      return listed;
    });

  it('match the entries of the general path, which recomputes every key, and refuse the same duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.constantFrom(...FIELDS), value, { noNullPrototype: true }), {
          minLength: 6,
          maxLength: 6,
        }),
        fc.array(change, { maxLength: 30 }),
        (initial, changes) => {
          const kept = new StoredCollection('db', 'rows', {}, () => undefined);
          const general = new StoredCollection('db', 'rows', {}, () => undefined);
          for (const spec of SPECS) {
            kept.addIndex(spec);
            general.addIndex(spec);
          }
          // The general path: every index recomputes and compares the document's keys.
          for (const index of general.indexes.values()) index.sameFieldsIn = () => false;
          for (const [id, fields] of initial.entries()) {
            const doc = { _id: id, ...fields };
            const outcomes = [kept, general].map((collection) => {
              try {
                collection.insert(doc);
                return 'ok';
              } catch (error) {
                return (error as Error).message;
              }
            });
            expect(outcomes[0]).toBe(outcomes[1]);
          }
          for (const { id, field, kind, value: next } of changes) {
            const previous = kept.get(id);
            if (!previous) continue;
            const updated: Document = { ...previous };
            if (kind === 'unset') delete updated[field];
            else updated[field] = kind === 'copy' ? cloneDocument(previous[field]) : next;
            const outcomes = [kept, general].map((collection) => {
              try {
                collection.replace(collection.get(id)!, collection === kept ? updated : { ...updated });
                return 'ok';
              } catch (error) {
                return (error as Error).message;
              }
            });
            expect(outcomes[0]).toBe(outcomes[1]);
          }
          expect(entries(kept)).toEqual(entries(general));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('sameCanonicalKey', () => {
  // Few distinct values of every BSON type, so that equal and nearly equal values meet often.
  const ids = ['000000000000000000000001', '000000000000000000000002'];
  const scalar = fc.oneof(
    fc.constantFrom(
      0,
      -0,
      1,
      1.5,
      NaN,
      Infinity,
      -Infinity,
      2 ** 53,
      '',
      '1',
      'a',
      'a,"b":',
      true,
      false,
      null,
      undefined,
    ),
    fc.constantFrom(...ids).map((hex) => new ObjectId(hex)),
    fc.constantFrom(0, 1, NaN).map((ms) => new Date(ms)),
    fc.constantFrom(0, 1, 2).map((n) => Long.fromNumber(n)),
    fc.constantFrom(0, 1).map((n) => new Int32(n)),
    fc.constantFrom(0, 1.5).map((n) => new Double(n)),
    fc.constantFrom('0', '1.5').map((n) => Decimal128.fromString(n)),
    fc.constantFrom('a', '1').map((text) => new BSONSymbol(text)),
    fc.constantFrom(new MinKey(), new MaxKey(), new Timestamp({ t: 1, i: 1 }), /a/, /a/i),
    fc
      .tuple(fc.constantFrom(0, 4), fc.uint8Array({ maxLength: 2 }))
      .map(([subtype, bytes]) => new Binary(bytes, subtype)),
  );
  const value = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', '1'), tie('value'), { maxKeys: 3, noNullPrototype: true }),
    ),
  })).value;

  it('holds exactly when the two canonical keys are equal', () => {
    // A value against another, against a structural copy of itself (the copy shares no object)
    // and against itself with every document's fields in reverse order (a different key).
    const reversed = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reversed);
      if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype)
        return value;
      return Object.fromEntries(
        Object.entries(value)
          .reverse()
          .map(([key, field]) => [key, reversed(field)]),
      );
    };
    fc.assert(
      fc.property(value, value, (a, b) => {
        for (const other of [b, cloneDocument({ v: a }).v, reversed(a)]) {
          expect(sameCanonicalKey(a, other)).toBe(canonicalKey(a) === canonicalKey(other));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('journal batch framing', () => {
  it('frames records into one growing buffer byte for byte as framing each apart and joining them does', () => {
    const record = fc.oneof(
      fc.record({
        op: fc.constant('put' as const),
        ns: fc.constantFrom('db.hits', 'db.visits'),
        doc: fc.record({ _id: fc.string(), v: fc.oneof(fc.integer(), fc.string({ maxLength: 3000 })) }),
      }),
      fc.record({ op: fc.constant('del' as const), ns: fc.constant('db.hits'), id: fc.integer() }),
    );
    fc.assert(
      fc.property(fc.array(record, { maxLength: 40 }), fc.integer({ min: 1, max: 300 }), (records, capacity) => {
        // A small first capacity makes most batches grow, some by more than doubling.
        const batch = new FrameBuffer(capacity);
        for (const change of records) batch.add(change);
        const joined = Buffer.concat(records.map((change) => frame(change)));
        expect(batch.bytes).toBe(joined.length);
        expect(batch.contents().equals(joined)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('filterCacheKey', () => {
  it('tells apart filters that differ in a value, its type, a field name or field order', () => {
    const filters: Document[] = [
      { a: 1 },
      { a: -0 },
      { a: 0 },
      { a: '1' },
      { a: true },
      { a: null },
      { a: new Date(1) },
      { a: [1] },
      { a: { b: 1 } },
      { a: { $eq: 1 } },
      { 'a.b': 1 },
      { a: 1, b: 2 },
      { b: 2, a: 1 },
      { a: new ObjectId('000000000000000000000001') },
      { a: new ObjectId('000000000000000000000002') },
      { a: 'x","b":"y' },
      { a: 'x', b: 'y' },
    ];
    const keys = filters.map(filterCacheKey);
    expect(keys.every((key) => typeof key === 'string')).toBe(true);
    expect(new Set(keys).size).toBe(filters.length);
    expect(filterCacheKey({ a: new Date(1) })).toBe(filterCacheKey({ a: new Date(1) }));
  });

  it('keeps no compiled filter whose operands hold state or that it cannot name exactly', () => {
    for (const filter of [
      { a: /x/g },
      { a: { $regex: 'x' } },
      { $expr: { $eq: ['$a', 1] } },
      { $where: 'true' },
      { a: Long.fromNumber(1) },
      { a: undefined },
      { a: { $in: Array.from({ length: 5000 }, (_, i) => `visitor-${i}`) } },
    ])
      expect(filterCacheKey(filter)).toBeUndefined();
  });
});

describe('update operators on top-level fields', () => {
  const fields = ['a', 'b', 'c'];
  // Objects as BSON decodes them: with Object's prototype (fast-check may otherwise build null-prototype ones).
  const value = fc.oneof(
    fc.integer({ min: -3, max: 3 }),
    fc.double({ noNaN: false }),
    fc.constantFrom('x', 'y', '', null, true, false),
    fc.date({ min: new Date(0), max: new Date(10_000), noInvalidDate: true }),
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
    fc.record({ k: fc.integer({ min: 0, max: 2 }) }, { noNullPrototype: true }),
  );
  const document = fc
    .dictionary(fc.constantFrom(...fields), value, { noNullPrototype: true })
    .map((doc) => ({ _id: 1, ...doc }));
  /** Numbers as drivers may send them: plain, or as Long/Int32/Double wrappers (also nested). */
  const wrapped = fc.oneof(
    fc.integer({ min: -2, max: 2 }).map((n) => Long.fromNumber(n)),
    fc.integer({ min: -2, max: 2 }).map((n) => new Int32(n)),
    fc.double({ min: -2, max: 2, noNaN: true }).map((n) => new Double(n)),
  );
  const sent = fc.oneof(value, wrapped, fc.array(wrapped, { maxLength: 2 }));
  const operand = (number: boolean) =>
    fc.dictionary(fc.constantFrom(...fields), number ? fc.oneof(fc.integer({ min: -2, max: 2 }), wrapped) : sent, {
      minKeys: 1,
      noNullPrototype: true,
    });
  /** Several operators on distinct fields (overlapping ones are refused, and go to mingo's `update()`). */
  const updateDocument = fc
    .record({
      $set: operand(false),
      $inc: operand(true),
      $min: operand(false),
      $max: operand(false),
      $unset: operand(false),
      $setOnInsert: operand(false),
    })
    .chain((all) =>
      fc.subarray(Object.keys(all), { minLength: 1 }).map((names) => {
        const taken = new Set<string>();
        const update: Document = {};
        for (const name of names) {
          const own = Object.fromEntries(
            Object.entries(all[name as keyof typeof all]).filter(([field]) => !taken.has(field)),
          );
          for (const field of Object.keys(own)) taken.add(field);
          if (Object.keys(own).length) update[name] = own;
        }
        return update;
      }),
    )
    .filter((update) => Object.keys(update).length > 0);

  it("gives what mingo's update() gives, updating and upserting", () => {
    fc.assert(
      fc.property(document, updateDocument, (doc, update) => {
        const expected = structuredClone(doc);
        const stored = structuredClone(doc);
        // MongoDB applies `$setOnInsert` only when inserting, then as a `$set`.
        const { $setOnInsert: onInsert, ...updating } = update;
        const changed = mingoUpdate(expected, normalize(updating), undefined, undefined, { cloneMode: 'deep' });
        const outcome = applyUpdate(doc, update, { _id: 1 });
        expect(outcome.doc).toEqual(expected);
        // The stored version stays as it was (a cursor may still be sending it), nested values too.
        expect(doc).toEqual(stored);
        expect(Object.keys(doc)).toEqual(Object.keys(stored));
        expect(Object.keys(outcome.doc)).toEqual(Object.keys(expected));
        // mingo's update() reports an array set to an equal array as changed, where MongoDB counts
        // no modification: when its result equals the stored document (checked above to equal
        // ours), either answer is taken; otherwise ours must be its.
        const mingoOverReports = changed.length > 0 && canonicalKey(expected) === canonicalKey(stored);
        if (!mingoOverReports) expect(outcome.modified).toBe(changed.length > 0);
        const inserted: Document = { _id: 1 };
        const inserting = onInsert ? { ...updating, $set: { ...(updating.$set as Document), ...onInsert } } : updating;
        if (Object.keys(inserting).length)
          mingoUpdate(inserted, normalize(inserting), undefined, undefined, { cloneMode: 'deep' });
        const upserted = buildUpsert({ _id: 1 }, update);
        expect(upserted).toEqual(inserted);
        expect(Object.keys(upserted)).toEqual(Object.keys(inserted));
      }),
      { numRuns: 2000 },
    );
  });
});
