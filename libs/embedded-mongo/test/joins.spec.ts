import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Document } from 'mongodb';
import { startTarget, type Target } from './harness.js';

/**
 * `$lookup` by field and `$unionWith` are answered from the foreign collection's indexes on
 * the embedded store; these pin MongoDB's join semantics (arrays, null and missing values,
 * dotted paths, sub-pipelines) with and without an index on the foreign field.
 */
interface Row {
  _id: number | string;
  [field: string]: unknown;
}

describe('join conformance', () => {
  let target: Target;

  beforeAll(async () => {
    target = await startTarget('joins');
    await target.db.collection<Row>('orders').insertMany([
      { _id: 1, item: 'a', tags: ['x', 'y'], meta: { sku: 'a' } },
      { _id: 2, item: 'b', tags: ['w', 'q'], meta: { sku: 'c' } },
      { _id: 3, tags: ['y'] },
      { _id: 4, item: null, tags: 'z' },
    ]);
    for (const name of ['items', 'indexedItems']) {
      await target.db.collection<Row>(name).insertMany([
        { _id: 'i1', sku: 'a', tag: 'x' },
        { _id: 'i2', sku: 'a', tag: ['y', 'z'] },
        { _id: 'i3', sku: 'b' },
        { _id: 'i4', sku: null, tag: 'y' },
        { _id: 'i5', tag: 'w' },
        { _id: 'i6', sku: ['c', 'd'], tag: [] },
      ]);
    }
    await target.db.collection('indexedItems').createIndex({ sku: 1 });
    await target.db.collection('indexedItems').createIndex({ tag: 1, sku: 1 });
  });

  afterAll(async () => {
    await target.stop();
  });

  /** `{ _id, joined ids sorted }` per order: MongoDB does not promise the order inside `as`. */
  async function joinIds(pipeline: Document[]): Promise<Array<[unknown, unknown[]]>> {
    const rows = await target.db
      .collection('orders')
      .aggregate([...pipeline, { $sort: { _id: 1 } }])
      .toArray();
    return rows.map((row) => [row._id, (row.joined as Document[]).map((doc) => doc._id).sort()]);
  }

  it.each(['items', 'indexedItems'])('joins scalars, nulls and missing values like MongoDB (%s)', async (from) => {
    expect(await joinIds([{ $lookup: { from, localField: 'item', foreignField: 'sku', as: 'joined' } }])).toEqual([
      [1, ['i1', 'i2']],
      [2, ['i3']],
      [3, ['i4', 'i5']],
      [4, ['i4', 'i5']],
    ]);
  });

  it.each(['items', 'indexedItems'])('joins array values element by element on either side (%s)', async (from) => {
    expect(await joinIds([{ $lookup: { from, localField: 'tags', foreignField: 'tag', as: 'joined' } }])).toEqual([
      [1, ['i1', 'i2', 'i4']],
      [2, ['i5']],
      [3, ['i2', 'i4']],
      [4, ['i2']],
    ]);
    expect(await joinIds([{ $lookup: { from, localField: 'meta.sku', foreignField: 'sku', as: 'joined' } }])).toEqual([
      [1, ['i1', 'i2']],
      [2, ['i6']],
      [3, ['i4', 'i5']],
      [4, ['i4', 'i5']],
    ]);
  });

  it('returns copies: changing the joined documents later in the pipeline changes nothing stored', async () => {
    const stored = await target.db.collection('indexedItems').find().sort({ _id: 1 }).toArray();
    await target.db
      .collection('orders')
      .aggregate([
        { $lookup: { from: 'indexedItems', localField: 'item', foreignField: 'sku', as: 'joined' } },
        { $unwind: '$joined' },
        { $set: { 'joined.sku': 'changed', 'joined.tag': 'changed' } },
      ])
      .toArray();
    // Read back by _id (not through the sku index, whose keys an in-place change would not touch).
    for (const doc of stored) {
      expect(await target.db.collection('indexedItems').findOne({ _id: doc._id })).toEqual(doc);
    }
  });

  it('gives each unwound document its own dotted `as`, though $unwind shares its subdocuments', async () => {
    await target.db.collection<Row>('unwound').insertOne({ _id: 1, meta: { n: 0 }, items: [1, 2] });
    await target.db.collection<Row>('keyed').insertMany([
      { _id: 1, k: 1 },
      { _id: 2, k: 2 },
    ]);
    const rows = await target.db
      .collection('unwound')
      .aggregate([
        { $unwind: '$items' },
        { $lookup: { from: 'keyed', localField: 'items', foreignField: 'k', as: 'meta.joined' } },
      ])
      .toArray();
    expect(rows).toEqual([
      { _id: 1, meta: { n: 0, joined: [{ _id: 1, k: 1 }] }, items: 1 },
      { _id: 1, meta: { n: 0, joined: [{ _id: 2, k: 2 }] }, items: 2 },
    ]);
  });

  it('appends $unionWith output, filtered and shaped by its sub-pipeline', async () => {
    const rows = await target.db
      .collection('orders')
      .aggregate([
        { $match: { _id: { $lte: 2 } } },
        { $project: { _id: 1 } },
        {
          $unionWith: {
            coll: 'indexedItems',
            pipeline: [{ $match: { sku: 'a' } }, { $project: { _id: 1, from: 'items' } }, { $sort: { _id: -1 } }],
          },
        },
        { $unionWith: 'missingCollection' },
      ])
      .toArray();
    expect(rows).toEqual([{ _id: 1 }, { _id: 2 }, { _id: 'i2', from: 'items' }, { _id: 'i1', from: 'items' }]);
    const everything = await target.db
      .collection('orders')
      .aggregate([{ $limit: 1 }, { $unionWith: 'items' }, { $count: 'n' }])
      .toArray();
    expect(everything).toEqual([{ n: 7 }]);
  });
});
