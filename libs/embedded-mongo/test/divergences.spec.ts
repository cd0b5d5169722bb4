import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { MongoServerError, type Collection, type Document, type Filter } from 'mongodb';
import { againstRealMongo, startTarget, type Target } from './harness.js';

/**
 * Behaviours where the store used to answer differently from MongoDB 7.0 without saying so
 * (issue "no silent divergence"): each is now either MongoDB's answer or MongoDB's error. Where
 * the store refuses what MongoDB implements (views, …), the test expects NotImplemented (238)
 * from the store and MongoDB's result from a real server.
 */

async function serverError(promise: Promise<unknown>): Promise<MongoServerError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MongoServerError) return error;
    throw error;
  }
  throw new Error('expected a server error, the operation succeeded');
}

/** Documents with any `_id` (the specs use numbers and subdocuments). */
type AnyDoc = Document & { _id: number | string | number[] | Document };

/** A filter on a numeric `_id` (the driver's Filter type cannot narrow the union above). */
const idIs = (id: number): Filter<AnyDoc> => ({ _id: id }) as unknown as Filter<AnyDoc>;

describe('no silent divergence from MongoDB 7.0', () => {
  let target: Target;
  let coll: Collection<AnyDoc>;

  beforeAll(async () => {
    target = await startTarget('divergences');
  });
  afterAll(async () => target.stop());
  beforeEach(async () => {
    coll = target.db.collection<AnyDoc>(`c_${expect.getState().currentTestName?.replace(/\W+/g, '_').slice(-40)}`);
    await coll.drop().catch(() => undefined);
  });

  describe('collation', () => {
    const words = [
      { _id: 1, w: 'ping' },
      { _id: 2, w: 'PING' },
      { _id: 3, w: 'pîng' },
      { _id: 4, w: 'pong' },
    ];
    const caseInsensitive = { locale: 'en', strength: 2 };
    const baseLetters = { locale: 'en', strength: 1 };

    beforeEach(async () => {
      await coll.insertMany(words);
    });

    it('strength 2 ignores case but not accents in find, count and $in; strength 1 ignores both', async () => {
      const ids = (docs: Document[]): unknown[] => docs.map((doc) => doc._id).sort();
      expect(ids(await coll.find({ w: 'Ping' }, { collation: caseInsensitive }).toArray())).toEqual([1, 2]);
      expect(ids(await coll.find({ w: 'Ping' }, { collation: baseLetters }).toArray())).toEqual([1, 2, 3]);
      expect(ids(await coll.find({ w: { $in: ['PONG', 'x'] } }, { collation: caseInsensitive }).toArray())).toEqual([
        4,
      ]);
      expect(await coll.countDocuments({ w: 'ping' }, { collation: caseInsensitive })).toBe(2);
      expect(ids(await coll.find({ w: { $ne: 'PING' } }, { collation: caseInsensitive }).toArray())).toEqual([3, 4]);
      // Without a collation the comparison stays binary.
      expect(ids(await coll.find({ w: 'Ping' }).toArray())).toEqual([]);
    });

    it('orders strings by the collation in sorts and ranges', async () => {
      await coll.deleteMany({});
      await coll.insertMany([
        { _id: 1, w: 'b' },
        { _id: 2, w: 'B' },
        { _id: 3, w: 'a' },
        { _id: 4, w: 'A' },
      ]);
      const sorted = await coll
        .find({}, { sort: { w: 1, _id: 1 }, collation: caseInsensitive, projection: { _id: 1 } })
        .toArray();
      expect(sorted.map((doc) => doc._id)).toEqual([3, 4, 1, 2]);
      const binary = await coll.find({}, { sort: { w: 1 }, projection: { _id: 1 } }).toArray();
      expect(binary.map((doc) => doc._id)).toEqual([4, 2, 3, 1]);
      const below = await coll.find({ w: { $lt: 'b' } }, { collation: caseInsensitive, sort: { _id: 1 } }).toArray();
      expect(below.map((doc) => doc._id)).toEqual([3, 4]);
    });

    it('applies to updates, deletes, findOneAndUpdate, distinct and an aggregate $match', async () => {
      const updated = await coll.updateMany({ w: 'PiNg' }, { $set: { hit: true } }, { collation: caseInsensitive });
      expect(updated.matchedCount).toBe(2);
      const found = await coll.findOneAndUpdate(
        { w: 'PONG' },
        { $set: { hit: true } },
        { collation: caseInsensitive, returnDocument: 'after' },
      );
      expect(found).toEqual({ _id: 4, w: 'pong', hit: true });
      expect((await coll.distinct('w', {}, { collation: caseInsensitive })).sort()).toEqual(['ping', 'pong', 'pîng']);
      const matched = await coll
        .aggregate([{ $match: { w: 'PING' } }, { $sort: { _id: 1 } }], { collation: caseInsensitive })
        .toArray();
      expect(matched.map((doc) => doc._id)).toEqual([1, 2]);
      const deleted = await coll.deleteMany({ w: 'PING' }, { collation: caseInsensitive });
      expect(deleted.deletedCount).toBe(2);
    });

    it('refuses what the store cannot run under a collation ($expr), or runs it as MongoDB does', async () => {
      const filter = { $expr: { $eq: ['$w', 'PING'] } };
      if (againstRealMongo) {
        expect(await coll.countDocuments(filter, { collation: caseInsensitive })).toBe(2);
      } else {
        const error = await serverError(coll.find(filter, { collation: caseInsensitive }).toArray());
        expect(error.code).toBe(238);
        expect(error.codeName).toBe('NotImplemented');
      }
    });
  });

  it('creates a view with viewOn, or refuses it (never an empty plain collection)', async () => {
    await coll.insertMany([{ _id: 1, n: 1 }]);
    const create = target.db.createCollection(`${coll.collectionName}_view`, {
      viewOn: coll.collectionName,
      pipeline: [{ $project: { n: 1 } }],
    });
    if (againstRealMongo) {
      const view = await create;
      expect(await view.find().toArray()).toEqual([{ _id: 1, n: 1 }]);
      await view.drop();
    } else {
      const error = await serverError(create);
      expect(error.code).toBe(238);
      expect(error.codeName).toBe('NotImplemented');
      const names = (await target.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      expect(names).not.toContain(`${coll.collectionName}_view`);
    }
  });

  it('refuses a hint naming no existing index (BadValue), and accepts one that does', async () => {
    await coll.insertMany([
      { _id: 1, a: 1 },
      { _id: 2, a: 2 },
    ]);
    await coll.createIndex({ a: 1 });
    expect(await coll.find({ a: 2 }, { hint: 'a_1' }).toArray()).toEqual([{ _id: 2, a: 2 }]);
    expect(await coll.find({ a: 2 }, { hint: { a: 1 } }).toArray()).toEqual([{ _id: 2, a: 2 }]);
    expect(await coll.countDocuments({}, { hint: { $natural: 1 } })).toBe(2);
    const refusals = [
      coll.find({}, { hint: 'missing_1' }).toArray(),
      coll.find({}, { hint: { b: 1 } }).toArray(),
      coll.updateOne({ a: 1 }, { $set: { b: 1 } }, { hint: 'missing_1' }),
      coll.deleteOne({ a: 1 }, { hint: { b: 1 } }),
      coll.findOneAndUpdate({ a: 1 }, { $set: { b: 1 } }, { hint: 'missing_1' as unknown as Document }),
      coll.aggregate([{ $match: {} }], { hint: 'missing_1' }).toArray(),
    ];
    for (const refusal of refusals) {
      const error = await serverError(refusal);
      expect(error.code).toBe(2);
      expect(error.message).toContain('hint provided does not correspond to an existing index');
    }
    expect(await coll.find({}, { sort: { _id: 1 } }).toArray()).toEqual([
      { _id: 1, a: 1 },
      { _id: 2, a: 2 },
    ]);
  });

  it('refuses unknown command fields with 40415, including 8.0-only ones such as sort on an update', async () => {
    await coll.insertOne({ _id: 1, a: 1 });
    const unknown = await serverError(target.db.command({ find: coll.collectionName, bogus: 1 }));
    expect(unknown.code).toBe(40415);
    expect(unknown.message).toBe("BSON field 'find.bogus' is an unknown field.");
    const inStatement = await serverError(
      target.db.command({ update: coll.collectionName, updates: [{ q: {}, u: { $set: { a: 2 } }, bogus: 1 }] }),
    );
    expect(inStatement.code).toBe(40415);
    expect(inStatement.message).toBe("BSON field 'update.updates.bogus' is an unknown field.");
    // `sort` on updateOne/replaceOne came with MongoDB 8.0.
    const sorted = await serverError(coll.updateOne({}, { $set: { a: 3 } }, { sort: { _id: -1 } }));
    expect(sorted.code).toBe(40415);
    expect(sorted.message).toBe("BSON field 'update.updates.sort' is an unknown field.");
    const replaced = await serverError(coll.replaceOne({}, { a: 4 }, { sort: { _id: -1 } }));
    expect(replaced.code).toBe(40415);
    // `hint` on distinct came with 7.1.
    const distinctHint = await serverError(
      target.db.command({ distinct: coll.collectionName, key: 'a', hint: { _id: 1 } }),
    );
    expect(distinctHint.code).toBe(40415);
    expect(await coll.findOne(idIs(1))).toEqual({ _id: 1, a: 1 });
  });

  it('refuses $-prefixed keys inside _id (52) and array ids (53), allows dotted keys', async () => {
    const dollar = await serverError(coll.insertOne({ _id: { $a: 1 } }));
    expect(dollar.code).toBe(52);
    expect(dollar.message).toBe("_id fields may not contain '$'-prefixed fields: $a is not valid for storage.");
    const nested = await serverError(coll.insertOne({ _id: { a: { $b: 1 } } }));
    expect(nested.code).toBe(52);
    const upsert = await serverError(coll.replaceOne({ x: 5 }, { _id: { $c: 1 } }, { upsert: true }));
    expect(upsert.code).toBe(52);
    const array = await serverError(coll.insertOne({ _id: [1, 2] }));
    expect(array.code).toBe(53);
    await coll.insertOne({ _id: { 'a.b': 1 } });
    expect(await coll.find().toArray()).toEqual([{ _id: { 'a.b': 1 } }]);
  });

  it('binds let variables in find, aggregate, update, delete and findOneAndUpdate', async () => {
    await coll.insertMany([
      { _id: 1, name: 'a' },
      { _id: 2, name: 'b' },
      { _id: 3, name: 'c' },
    ]);
    const byId = { $expr: { $eq: ['$_id', '$$id'] } };
    expect(await coll.find(byId, { let: { id: 2 } }).toArray()).toEqual([{ _id: 2, name: 'b' }]);
    const projected = await coll
      .aggregate([{ $match: byId }, { $project: { _id: 0, label: { $concat: ['$name', '$$suffix'] } } }], {
        let: { id: 1, suffix: '!' },
      })
      .toArray();
    expect(projected).toEqual([{ label: 'a!' }]);
    await coll.updateOne(byId, [{ $set: { name: '$$renamed' } }], { let: { id: 3, renamed: 'z' } });
    expect(await coll.findOne(idIs(3))).toEqual({ _id: 3, name: 'z' });
    const after = await coll.findOneAndUpdate(byId, [{ $set: { seen: '$$flag' } }], {
      let: { id: 2, flag: true },
      returnDocument: 'after',
    });
    expect(after).toEqual({ _id: 2, name: 'b', seen: true });
    expect((await coll.deleteOne(byId, { let: { id: 1 } })).deletedCount).toBe(1);
    expect(await coll.countDocuments()).toBe(2);
  });

  it('reports an undefined variable with 17276, an unknown stage with 40324, an unknown expression with 168', async () => {
    const undefinedVariable = await serverError(coll.find({ $expr: { $eq: ['$_id', '$$nope'] } }).toArray());
    expect(undefinedVariable.code).toBe(17276);
    expect(undefinedVariable.message).toContain('Use of undefined variable: nope');
    const stage = await serverError(coll.aggregate([{ $noSuchStage: {} }]).toArray());
    expect(stage.code).toBe(40324);
    expect(stage.message).toBe("Unrecognized pipeline stage name: '$noSuchStage'");
    await coll.insertOne({ _id: 1 });
    const expression = await serverError(coll.aggregate([{ $project: { x: { $noSuchOperator: 1 } } }]).toArray());
    expect(expression.code).toBe(168);
    expect(expression.message).toContain("Unrecognized expression '$noSuchOperator'");
  });

  it("matches a '$$' string in a filter as a string, not a variable", async () => {
    await coll.insertMany([
      { _id: 1, name: '$$notAVariable' },
      { _id: 2, name: 'other' },
    ]);
    expect(await coll.find({ name: '$$notAVariable' }).toArray()).toEqual([{ _id: 1, name: '$$notAVariable' }]);
    const matched = await coll.aggregate([{ $match: { name: { $in: ['$$notAVariable'] } } }]).toArray();
    expect(matched).toEqual([{ _id: 1, name: '$$notAVariable' }]);
  });

  it('keeps _id when a pipeline update replaces the root with a subdocument', async () => {
    await coll.insertOne({ _id: 1, t: { u: 1 } });
    const result = await coll.updateOne(idIs(1), [{ $replaceRoot: { newRoot: '$t' } }]);
    expect(result.modifiedCount).toBe(1);
    expect(await coll.findOne(idIs(1))).toEqual({ _id: 1, u: 1 });
  });

  it('lists the sessions in use with $listLocalSessions', async () => {
    const session = target.client.startSession();
    try {
      await coll.insertOne({ _id: 1 }, { session });
      const sessions = await target.client
        .db('admin')
        .aggregate([{ $listLocalSessions: {} }, { $match: { '_id.id': session.id!.id } }])
        .toArray();
      expect(sessions).toHaveLength(1);
      expect(sessions[0].lastUse).toBeInstanceOf(Date);
    } finally {
      await session.endSession();
    }
  });
});
