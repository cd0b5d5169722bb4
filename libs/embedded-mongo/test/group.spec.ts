import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Double, Int32, Long, type Collection, type Document } from 'mongodb';
import { startTarget, type Target } from './harness.js';

/**
 * `$group` answers pinned to MongoDB's, through the driver: the places where the native stage
 * (`src/group-stage.ts`) deliberately differs from mingo 7.2, and the fallback to mingo.
 */
describe('$group semantics', () => {
  let target: Target;
  let coll: Collection<Document>;

  beforeAll(async () => {
    target = await startTarget('group');
    coll = target.db.collection('values');
  });
  afterAll(async () => target.stop());

  const groupAll = async (docs: Document[], pipeline: Document[]): Promise<Document[]> => {
    await coll.deleteMany({});
    await coll.insertMany(docs.map((doc, i) => ({ _id: i, ...doc }) as Document));
    return coll.aggregate([{ $sort: { _id: 1 } }, ...pipeline]).toArray();
  };
  const byId = (rows: Document[]): Document[] =>
    [...rows].sort((a, b) => (JSON.stringify(a._id) < JSON.stringify(b._id) ? -1 : 1));

  it('groups numbers of every width by value, and null with missing', async () => {
    const rows = await groupAll(
      [{ k: new Int32(1) }, { k: new Double(1) }, { k: Long.fromNumber(1) }, { k: null }, {}, { k: '1' }],
      [{ $group: { _id: '$k', n: { $sum: 1 } } }],
    );
    expect(byId(rows)).toEqual([
      { _id: '1', n: 1 },
      { _id: 1, n: 3 },
      { _id: null, n: 2 },
    ]);
  });

  it('keeps key order in object keys, leaves missing fields out of them and groups arrays as values', async () => {
    const rows = await groupAll(
      [
        { o: { a: 1, b: 2 } },
        { o: { b: 2, a: 1 } },
        { o: { a: 1, b: 2 } },
        { t: [1, 2] },
        { t: [1, 2] },
        { t: [2, 1] },
      ],
      [{ $group: { _id: { o: '$o', t: '$t' }, n: { $sum: 1 } } }],
    );
    expect(rows).toHaveLength(4);
    const objectGroups = rows.filter((row) => 'o' in row._id);
    expect(objectGroups.map((row) => [Object.keys(row._id.o as Document), row.n])).toEqual([
      [['a', 'b'], 2],
      [['b', 'a'], 1],
    ]);
    expect(rows.filter((row) => 't' in row._id)).toEqual([
      { _id: { t: [1, 2] }, n: 2 },
      { _id: { t: [2, 1] }, n: 1 },
    ]);
  });

  it('sums numbers only, overflowing int32 without wrapping, and averages to null without numbers', async () => {
    const [row] = await groupAll(
      [{ v: 2147483647 }, { v: 2147483647 }, { v: '5' }, { v: [1, 2] }, { v: null }, {}, { w: 'x' }],
      [{ $group: { _id: null, sum: { $sum: '$v' }, avg: { $avg: '$v' }, none: { $avg: '$w' }, zero: { $sum: '$w' } } }],
    );
    expect(row).toEqual({ _id: null, sum: 4294967294, avg: 2147483647, none: null, zero: 0 });
  });

  it('orders $min/$max by BSON type order, ignoring null and missing unless nothing else comes', async () => {
    const [row] = await groupAll(
      [{ v: [1, 5] }, { v: 'x' }, { v: { a: 1 } }, { v: 3 }, { v: null }, {}],
      [{ $group: { _id: null, min: { $min: '$v' }, max: { $max: '$v' }, onlyNull: { $min: '$w' } } }],
    );
    expect(row).toEqual({ _id: null, min: 3, max: [1, 5], onlyNull: null });
  });

  it('gives null for a missing $first/$last, and $push/$addToSet skip missing values but keep null', async () => {
    const [row] = await groupAll(
      [{}, { v: 1 }, { v: null }, { v: 1.0 }, { v: { a: 1 } }, { v: { a: 1 } }, {}],
      [
        {
          $group: {
            _id: 'all',
            first: { $first: '$v' },
            last: { $last: '$v' },
            pushed: { $push: '$v' },
            set: { $addToSet: '$v' },
          },
        },
      ],
    );
    expect(row).toMatchObject({ _id: 'all', first: null, last: null, pushed: [1, null, 1, { a: 1 }, { a: 1 }] });
    expect(row.set).toHaveLength(3);
    expect(row.set).toEqual(expect.arrayContaining([1, null, { a: 1 }]));
  });

  it('evaluates operator expressions in keys and operands per document', async () => {
    const rows = await groupAll(
      [
        { name: 'pageview', at: new Date('2024-03-31T00:30:00Z'), tags: ['x'] },
        { name: 'signup', at: new Date('2024-03-31T23:30:00Z'), tags: 'x' },
      ],
      [
        {
          $group: {
            _id: { day: { $dateToString: { date: '$at', format: '%Y-%m-%d', timezone: 'Europe/Berlin' } } },
            pageviews: { $sum: { $cond: [{ $eq: ['$name', 'pageview'] }, 1, 0] } },
            // Aggregation $eq compares whole values: an array holding the constant is not equal to it.
            tagged: { $sum: { $cond: { if: { $eq: ['$tags', 'x'] }, then: 1, else: 0 } } },
            named: { $first: { $ifNull: ['$missing', null, '$name'] } },
          },
        },
      ],
    );
    expect(byId(rows)).toEqual([
      { _id: { day: '2024-03-31' }, pageviews: 1, tagged: 0, named: 'pageview' },
      { _id: { day: '2024-04-01' }, pageviews: 0, tagged: 1, named: 'signup' },
    ]);
  });

  it('still runs accumulators it does not handle natively', async () => {
    const [row] = await groupAll(
      [
        { v: 2, o: { x: 1 } },
        { v: 4, o: { y: 2 } },
      ],
      [{ $group: { _id: null, sd: { $stdDevPop: '$v' }, merged: { $mergeObjects: '$o' }, n: { $sum: 1 } } }],
    );
    expect(row).toEqual({ _id: null, sd: 1, merged: { x: 1, y: 2 }, n: 2 });
  });
});
