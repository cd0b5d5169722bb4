import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Collection, Document } from 'mongodb';
import { startTarget, type Target } from './harness.js';

/**
 * An absent field and a null one, as MongoDB's manual describes them ("Query for Null or Missing
 * Fields", `$ifNull`, `$group`): the query language matches both with `null`, `$nin` and `$nor`;
 * aggregation expressions tell them apart (`$eq` with null, a compound `$group` key) unless
 * `$ifNull` folds the absent one into null. Siteline's hits leave a field out when it has no
 * value while older hits hold null, and its pipelines rely on exactly these rules.
 */
describe('null and missing fields', () => {
  let target: Target;
  let docs: Collection<Document>;

  beforeAll(async () => {
    target = await startTarget('null_missing');
    docs = target.db.collection('docs');
    await docs.insertMany([
      { _id: 1, k: 'a', source: 'news' },
      { _id: 2, k: 'a', source: null },
      { _id: 3, k: 'a' },
      { _id: 4, k: 'b', source: 'News letter' },
    ] as Document[]);
  });
  afterAll(async () => target.stop());

  const ids = async (filter: Document): Promise<number[]> =>
    (await docs.find(filter).sort({ _id: 1 }).toArray()).map((doc) => doc._id as unknown as number);
  const run = (pipeline: Document[]): Promise<Document[]> => docs.aggregate(pipeline).toArray();

  it('matches an absent field with a null query value, $nin and $nor, and never with $in of strings or $regex', async () => {
    expect(await ids({ source: null })).toEqual([2, 3]);
    expect(await ids({ source: { $in: ['news', null] } })).toEqual([1, 2, 3]);
    expect(await ids({ source: { $in: ['news'] } })).toEqual([1]);
    expect(await ids({ source: { $nin: ['news'] } })).toEqual([2, 3, 4]);
    expect(await ids({ source: { $regex: 'new', $options: 'i' } })).toEqual([1, 4]);
    expect(await ids({ $nor: [{ source: { $regex: 'new', $options: 'i' } }] })).toEqual([2, 3]);
    expect(await ids({ source: { $exists: false } })).toEqual([3]);
    expect(await ids({ source: { $type: 'null' } })).toEqual([2]);
  });

  it('keeps absent and null apart in a compound $group key, and together once $ifNull folds them', async () => {
    const raw = await run([{ $group: { _id: { source: '$source' }, n: { $sum: 1 } } }, { $sort: { n: -1 } }]);
    expect(raw).toHaveLength(4);
    expect(raw).toEqual(
      expect.arrayContaining([
        { _id: {}, n: 1 },
        { _id: { source: null }, n: 1 },
      ]),
    );
    const folded = await run([
      { $group: { _id: { source: { $ifNull: ['$source', null] } }, n: { $sum: 1 } } },
      { $sort: { n: -1, '_id.source': 1 } },
    ]);
    expect(folded).toEqual([
      { _id: { source: null }, n: 2 },
      { _id: { source: 'News letter' }, n: 1 },
      { _id: { source: 'news' }, n: 1 },
    ]);
    // A plain (non-document) key groups absent with null already.
    const plain = await run([{ $group: { _id: '$source', n: { $sum: 1 } } }, { $match: { _id: null } }]);
    expect(plain).toEqual([{ _id: null, n: 2 }]);
  });

  it('tells absent from null in expressions: $eq with null, $project, $toString, $type', async () => {
    const rows = await run([
      { $sort: { _id: 1 } },
      {
        $project: {
          isNull: { $eq: ['$source', null] },
          notNull: { $ne: ['$source', null] },
          foldedIsNull: { $eq: [{ $ifNull: ['$source', null] }, null] },
          copy: '$source',
          text: { $toString: '$source' },
          type: { $type: '$source' },
          inList: { $in: [{ $ifNull: ['$source', null] }, [null]] },
        },
      },
    ]);
    expect(rows).toEqual([
      {
        _id: 1,
        isNull: false,
        notNull: true,
        foldedIsNull: false,
        copy: 'news',
        text: 'news',
        type: 'string',
        inList: false,
      },
      { _id: 2, isNull: true, notNull: false, foldedIsNull: true, copy: null, text: null, type: 'null', inList: true },
      { _id: 3, isNull: false, notNull: true, foldedIsNull: true, text: null, type: 'missing', inList: true },
      {
        _id: 4,
        isNull: false,
        notNull: true,
        foldedIsNull: false,
        copy: 'News letter',
        text: 'News letter',
        type: 'string',
        inList: false,
      },
    ]);
  });

  it('tells absent from null in $expr filters too, while the plain query matches both', async () => {
    expect(await ids({ $expr: { $eq: ['$source', null] } })).toEqual([2]);
    expect(await ids({ $expr: { $eq: [{ $ifNull: ['$source', null] }, null] } })).toEqual([2, 3]);
    expect(await ids({ $expr: { $eq: ['$nowhere', '$alsoNowhere'] } })).toEqual([1, 2, 3, 4]);
  });

  it('sorts absent and null together, before strings', async () => {
    const order = (await docs.find({}).sort({ source: 1, _id: 1 }).toArray()).map((doc) => doc._id);
    expect(order).toEqual([2, 3, 4, 1]);
  });
});
