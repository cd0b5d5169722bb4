import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Collection, Document } from 'mongodb';
import { startTarget, type Target } from './harness.js';

const at = (iso: string): Date => new Date(iso);

/** Six hits across three sites, around a DST switch in Berlin (2024-03-31 01:00 UTC). */
const events: Document[] = [
  { _id: 1, site: 'a', visitor: 'v1', path: '/', ms: 50, at: at('2024-03-01T10:00:00Z'), tags: ['x', 'y'] },
  { _id: 2, site: 'a', visitor: 'v2', path: '/about', ms: 100, at: at('2024-03-01T23:30:00Z'), tags: ['x'] },
  { _id: 3, site: 'a', visitor: 'v1', path: '/', ms: 250, at: at('2024-03-02T08:00:00Z'), tags: [] },
  { _id: 4, site: 'b', visitor: 'v3', path: '/', ms: 499, at: at('2024-03-03T12:00:00Z') },
  { _id: 5, site: 'b', visitor: 'v3', path: '/pricing', ms: 500, at: at('2024-03-06T02:00:00Z'), tags: ['z'] },
  {
    _id: 6,
    site: 'c',
    visitor: 'v4',
    path: '/',
    ms: 1000,
    at: at('2024-03-31T22:30:00Z'),
    tags: ['y'],
    referrer: 'google',
  },
];

describe('aggregation conformance', () => {
  let target: Target;
  let hits: Collection<Document>;

  beforeAll(async () => {
    target = await startTarget('aggregation');
    hits = target.db.collection('hits');
    await hits.insertMany(events.map((e) => ({ ...e })));
    await target.db.collection('sites').insertMany([
      { _id: 'a', name: 'Site A' },
      { _id: 'b', name: 'Site B' },
    ] as Document[]);
  });
  afterAll(async () => target.stop());

  const run = (pipeline: Document[]): Promise<Document[]> => hits.aggregate(pipeline).toArray();

  it('$match + $group with every accumulator', async () => {
    const result = await run([
      { $match: { ms: { $gte: 0 } } },
      { $sort: { at: 1 } },
      {
        $group: {
          _id: '$site',
          hits: { $sum: 1 },
          total: { $sum: '$ms' },
          avg: { $avg: '$ms' },
          min: { $min: '$ms' },
          max: { $max: '$ms' },
          first: { $first: '$path' },
          last: { $last: '$path' },
          visitors: { $addToSet: '$visitor' },
          paths: { $push: '$path' },
        },
      },
      { $sort: { _id: 1 } },
    ]);
    const normalised = result.map((r) => ({ ...r, visitors: [...(r.visitors as string[])].sort() }));
    expect(normalised).toEqual([
      {
        _id: 'a',
        hits: 3,
        total: 400,
        avg: 400 / 3,
        min: 50,
        max: 250,
        first: '/',
        last: '/',
        visitors: ['v1', 'v2'],
        paths: ['/', '/about', '/'],
      },
      {
        _id: 'b',
        hits: 2,
        total: 999,
        avg: 499.5,
        min: 499,
        max: 500,
        first: '/',
        last: '/pricing',
        visitors: ['v3'],
        paths: ['/', '/pricing'],
      },
      {
        _id: 'c',
        hits: 1,
        total: 1000,
        avg: 1000,
        min: 1000,
        max: 1000,
        first: '/',
        last: '/',
        visitors: ['v4'],
        paths: ['/'],
      },
    ]);
  });

  it('counts like mongoose countDocuments ($match + $group) and with $count', async () => {
    expect(await run([{ $match: { site: 'a' } }, { $group: { _id: 1, n: { $sum: 1 } } }])).toEqual([{ _id: 1, n: 3 }]);
    expect(await run([{ $match: { site: 'zzz' } }, { $group: { _id: 1, n: { $sum: 1 } } }])).toEqual([]);
    expect(await run([{ $match: { ms: { $gt: 100 } } }, { $count: 'slow' }])).toEqual([{ slow: 4 }]);
  });

  it('$project, $addFields/$set with conditional, string and array expressions', async () => {
    const result = await run([
      { $match: { _id: { $in: [1, 4, 6] } } },
      { $sort: { _id: 1 } },
      { $addFields: { speed: { $cond: [{ $gte: ['$ms', 500] }, 'slow', 'fast'] } } },
      { $set: { source: { $ifNull: ['$referrer', 'direct'] } } },
      {
        $project: {
          _id: 0,
          speed: 1,
          source: 1,
          tagCount: { $size: { $ifNull: ['$tags', []] } },
          label: { $concat: ['$site', ':', '$path'] },
          msText: { $toString: '$ms' },
          atText: { $toString: '$at' },
          bucket: {
            $switch: {
              branches: [
                { case: { $lt: ['$ms', 100] }, then: 'low' },
                { case: { $lt: ['$ms', 600] }, then: 'mid' },
              ],
              default: 'high',
            },
          },
        },
      },
    ]);
    expect(result).toEqual([
      {
        speed: 'fast',
        source: 'direct',
        tagCount: 2,
        label: 'a:/',
        msText: '50',
        atText: '2024-03-01T10:00:00.000Z',
        bucket: 'low',
      },
      {
        speed: 'fast',
        source: 'direct',
        tagCount: 0,
        label: 'b:/',
        msText: '499',
        atText: '2024-03-03T12:00:00.000Z',
        bucket: 'mid',
      },
      {
        speed: 'slow',
        source: 'google',
        tagCount: 1,
        label: 'c:/',
        msText: '1000',
        atText: '2024-03-31T22:30:00.000Z',
        bucket: 'high',
      },
    ]);
  });

  it('$unwind with and without preserveNullAndEmptyArrays', async () => {
    const plain = await run([
      { $unwind: '$tags' },
      { $group: { _id: '$tags', n: { $sum: 1 } } },
      { $sort: { _id: 1 } },
    ]);
    expect(plain).toEqual([
      { _id: 'x', n: 2 },
      { _id: 'y', n: 2 },
      { _id: 'z', n: 1 },
    ]);
    const preserved = await run([
      { $unwind: { path: '$tags', preserveNullAndEmptyArrays: true, includeArrayIndex: 'i' } },
      { $project: { _id: 1, tags: 1, i: 1 } },
      { $sort: { _id: 1, i: 1 } },
    ]);
    expect(preserved).toEqual([
      { _id: 1, tags: 'x', i: 0 },
      { _id: 1, tags: 'y', i: 1 },
      { _id: 2, tags: 'x', i: 0 },
      { _id: 3, i: null },
      { _id: 4, i: null },
      { _id: 5, tags: 'z', i: 0 },
      { _id: 6, tags: 'y', i: 0 },
    ]);
  });

  it('$sort, $skip, $limit and $sortByCount', async () => {
    expect(
      (await run([{ $sort: { ms: -1 } }, { $skip: 1 }, { $limit: 2 }, { $project: { _id: 1 } }])).map((d) => d._id),
    ).toEqual([5, 4]);
    expect(await run([{ $sortByCount: '$site' }, { $sort: { count: -1, _id: 1 } }])).toEqual([
      { _id: 'a', count: 3 },
      { _id: 'b', count: 2 },
      { _id: 'c', count: 1 },
    ]);
  });

  it('$facet runs sub-pipelines side by side', async () => {
    const [facets] = await run([
      {
        $facet: {
          total: [{ $count: 'n' }],
          bySite: [{ $group: { _id: '$site', n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
          buckets: [{ $bucket: { groupBy: '$ms', boundaries: [0, 100, 500], default: 'slow' } }],
        },
      },
    ]);
    expect(facets).toEqual({
      total: [{ n: 6 }],
      bySite: [
        { _id: 'a', n: 3 },
        { _id: 'b', n: 2 },
        { _id: 'c', n: 1 },
      ],
      buckets: [
        { _id: 0, count: 1 },
        { _id: 100, count: 3 },
        { _id: 'slow', count: 2 },
      ],
    });
  });

  it('$bucket places a value equal to a boundary in the upper bucket and omits empty buckets', async () => {
    const result = await run([
      {
        $bucket: {
          groupBy: '$ms',
          boundaries: [0, 100, 200, 500, 2000],
          output: { n: { $sum: 1 }, ids: { $push: '$_id' } },
        },
      },
    ]);
    expect(result).toEqual([
      { _id: 0, n: 1, ids: [1] },
      { _id: 100, n: 1, ids: [2] },
      { _id: 200, n: 2, ids: [3, 4] },
      { _id: 500, n: 2, ids: [5, 6] },
    ]);
  });

  it('$lookup by field and with a pipeline', async () => {
    const byField = await run([
      { $match: { _id: { $in: [1, 6] } } },
      { $lookup: { from: 'sites', localField: 'site', foreignField: '_id', as: 'siteInfo' } },
      { $project: { _id: 1, siteInfo: 1 } },
      { $sort: { _id: 1 } },
    ]);
    expect(byField).toEqual([
      { _id: 1, siteInfo: [{ _id: 'a', name: 'Site A' }] },
      { _id: 6, siteInfo: [] },
    ]);
    const withPipeline = await target.db
      .collection('sites')
      .aggregate([
        {
          $lookup: {
            from: 'hits',
            let: { s: '$_id' },
            pipeline: [{ $match: { $expr: { $eq: ['$site', '$$s'] } } }, { $count: 'n' }],
            as: 'stats',
          },
        },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(withPipeline).toEqual([
      { _id: 'a', name: 'Site A', stats: [{ n: 3 }] },
      { _id: 'b', name: 'Site B', stats: [{ n: 2 }] },
    ]);
  });

  it('$setWindowFields computes running totals per partition', async () => {
    const result = await run([
      {
        $setWindowFields: {
          partitionBy: '$site',
          sortBy: { at: 1 },
          output: { running: { $sum: '$ms', window: { documents: ['unbounded', 'current'] } } },
        },
      },
      { $project: { _id: 1, running: 1 } },
      { $sort: { _id: 1 } },
    ]);
    expect(result.map((d) => d.running)).toEqual([50, 150, 400, 499, 999, 1000]);
  });

  it('leaves stored documents untouched, whatever the pipeline does to its inputs', async () => {
    const before = await hits.find({}).sort({ _id: 1 }).toArray();
    await run([
      { $project: { tags: 1, nested: { site: '$site' } } },
      { $group: { _id: null, all: { $push: '$$ROOT' } } },
    ]);
    await run([
      { $unwind: { path: '$tags', includeArrayIndex: 'i', preserveNullAndEmptyArrays: true } },
      { $set: { ms: 0, 'extra.x': 1 } },
      { $unset: 'path' },
    ]);
    await run([
      { $group: { _id: '$site', docs: { $push: '$$ROOT' } } },
      { $unwind: '$docs' },
      { $set: { 'docs.ms': -1 } },
    ]);
    await run([
      { $lookup: { from: 'sites', localField: 'site', foreignField: '_id', as: 'site' } },
      { $addFields: { tags: [] } },
    ]);
    // Stages that only read run over the stored documents, the rest over copies made after them.
    await run([
      { $match: { site: { $in: ['a', 'b'] } } },
      { $sort: { at: -1 } },
      { $project: { tags: 1, site: 1 } },
      { $unwind: '$tags' },
      { $set: { site: 'changed' } },
    ]);
    expect(await hits.find({}).sort({ _id: 1 }).toArray()).toEqual(before);
  });

  it('writes rollups with $merge and $out', async () => {
    const rollup = (): Document[] => [
      {
        $group: {
          _id: { site: '$site', day: { $dateToString: { date: '$at', format: '%Y-%m-%d', timezone: 'UTC' } } },
          views: { $sum: 1 },
        },
      },
      { $merge: { into: 'daily', on: '_id', whenMatched: 'replace', whenNotMatched: 'insert' } },
    ];
    await hits.aggregate(rollup()).toArray();
    const daily = target.db.collection('daily');
    expect(await daily.countDocuments()).toBe(5);
    expect(await daily.findOne({ _id: { site: 'a', day: '2024-03-01' } } as Document)).toEqual({
      _id: { site: 'a', day: '2024-03-01' },
      views: 2,
    });
    await hits.insertOne({
      _id: 7,
      site: 'a',
      visitor: 'v9',
      path: '/',
      ms: 1,
      at: at('2024-03-01T12:00:00Z'),
    } as Document);
    await hits.aggregate(rollup()).toArray();
    expect(await daily.findOne({ _id: { site: 'a', day: '2024-03-01' } } as Document)).toMatchObject({ views: 3 });
    await hits.aggregate([{ $match: { site: 'b' } }, { $project: { path: 1 } }, { $out: 'b_paths' }]).toArray();
    expect(await target.db.collection('b_paths').find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 4, path: '/' },
      { _id: 5, path: '/pricing' },
    ]);
    await hits.deleteOne({ _id: 7 } as Document);
  });
});
