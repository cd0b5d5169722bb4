import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mongoose, { Schema, type Connection } from 'mongoose';
import { startTarget, uriWithDb, type Target } from './harness.js';

interface Visit {
  siteId: string;
  visitorKey: string;
  path: string;
  views: number;
  at: Date;
  tags?: string[];
}

const visitSchema = new Schema<Visit>({
  siteId: { type: String, required: true },
  visitorKey: { type: String, required: true },
  path: { type: String, required: true },
  views: { type: Number, default: 1 },
  at: { type: Date, required: true },
  tags: [String],
});
// The compound unique index is what the 11000 assertions exercise.
visitSchema.index({ siteId: 1, visitorKey: 1 }, { unique: true });
visitSchema.index({ at: -1 });

describe('mongoose against the store', () => {
  let target: Target;
  let connection: Connection;

  beforeAll(async () => {
    target = await startTarget('mongoose');
    connection = await mongoose
      .createConnection(uriWithDb(target.uri, target.dbName), { serverSelectionTimeoutMS: 5000 })
      .asPromise();
  });

  afterAll(async () => {
    await connection.close();
    await target.stop();
  });

  const model = () => connection.models.Visit ?? connection.model<Visit>('Visit', visitSchema);

  it('syncs indexes and creates documents', async () => {
    const Visit = model();
    await Visit.syncIndexes();
    const names = (await Visit.listIndexes()).map((index) => index.name).sort();
    expect(names).toEqual(['_id_', 'at_-1', 'siteId_1_visitorKey_1']);
    const created = await Visit.create({
      siteId: 's1',
      visitorKey: 'v1',
      path: '/',
      at: new Date('2024-03-01T10:00:00Z'),
    });
    expect(created._id).toBeDefined();
    expect(await Visit.countDocuments({ siteId: 's1' })).toBe(1);
  });

  it('surfaces duplicate keys as code 11000', async () => {
    const Visit = model();
    await expect(Visit.create({ siteId: 's1', visitorKey: 'v1', path: '/x', at: new Date() })).rejects.toMatchObject({
      code: 11000,
    });
  });

  it('insertMany ordered:false inserts the rest and reports the duplicates', async () => {
    const Visit = model();
    const docs = [
      { siteId: 's2', visitorKey: 'a', path: '/', at: new Date('2024-03-02T00:00:00Z') },
      { siteId: 's2', visitorKey: 'a', path: '/dup', at: new Date('2024-03-02T00:00:00Z') },
      { siteId: 's2', visitorKey: 'b', path: '/', at: new Date('2024-03-03T00:00:00Z') },
    ];
    let error: unknown;
    try {
      await Visit.insertMany(docs, { ordered: false });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 11000 });
    const writeErrors = (error as { writeErrors: Array<{ index: number; code?: number; err?: { code: number } }> })
      .writeErrors;
    expect(writeErrors.map((e) => e.index)).toEqual([1]);
    expect(await Visit.countDocuments({ siteId: 's2' })).toBe(2);
  });

  it('findOneAndUpdate upserts with $setOnInsert and updates afterwards', async () => {
    const Visit = model();
    const first = await Visit.findOneAndUpdate(
      { siteId: 's3', visitorKey: 'v' },
      { $inc: { views: 1 }, $setOnInsert: { path: '/landing', at: new Date('2024-03-04T00:00:00Z') } },
      { upsert: true, new: true },
    ).lean();
    expect(first).toMatchObject({ siteId: 's3', visitorKey: 'v', views: 1, path: '/landing' });
    const second = await Visit.findOneAndUpdate(
      { siteId: 's3', visitorKey: 'v' },
      { $inc: { views: 1 }, $setOnInsert: { path: '/ignored' } },
      { upsert: true, new: true },
    ).lean();
    expect(second).toMatchObject({ views: 2, path: '/landing' });
  });

  it('aggregates, bulk-writes and deletes', async () => {
    const Visit = model();
    const result = await Visit.bulkWrite([
      {
        insertOne: {
          document: { siteId: 's4', visitorKey: 'x', path: '/a', views: 3, at: new Date('2024-03-05T00:00:00Z') },
        },
      },
      { updateOne: { filter: { siteId: 's3', visitorKey: 'v' }, update: { $set: { path: '/changed' } } } },
      {
        updateOne: {
          filter: { siteId: 's4', visitorKey: 'y' },
          update: { $set: { path: '/b', at: new Date('2024-03-06T00:00:00Z') } },
          upsert: true,
        },
      },
      { deleteOne: { filter: { siteId: 'none' } } },
    ]);
    expect(result.insertedCount).toBe(1);
    expect(result.modifiedCount).toBe(1);
    expect(result.upsertedCount).toBe(1);
    const bySite = await Visit.aggregate<{ _id: string; visitors: number; views: number }>([
      { $group: { _id: '$siteId', visitors: { $sum: 1 }, views: { $sum: '$views' } } },
      { $sort: { _id: 1 } },
    ]);
    expect(bySite).toEqual([
      { _id: 's1', visitors: 1, views: 1 },
      { _id: 's2', visitors: 2, views: 2 },
      { _id: 's3', visitors: 1, views: 2 },
      { _id: 's4', visitors: 2, views: 4 },
    ]);
    const deleted = await Visit.deleteMany({ siteId: { $in: ['s1', 's2'] } });
    expect(deleted.deletedCount).toBe(3);
    expect(await Visit.countDocuments()).toBe(3);
    expect(await Visit.estimatedDocumentCount()).toBe(3);
  });

  it('syncIndexes drops an index the schema does not declare and recreates a declared one', async () => {
    const Visit = model();
    const indexNames = async () => (await Visit.listIndexes()).map((index) => index.name as string).sort();
    // By hand: a stale index, and a declared one gone missing.
    await Visit.collection.createIndex({ path: 1 });
    await Visit.collection.createIndex({ siteId: 1, views: -1 }, { name: 'stale_by_site' });
    await Visit.collection.dropIndex('at_-1');
    expect(await indexNames()).toEqual(['_id_', 'path_1', 'siteId_1_visitorKey_1', 'stale_by_site']);

    const dropped = await Visit.syncIndexes();
    expect([...dropped].sort()).toEqual(['path_1', 'stale_by_site']);
    expect(await indexNames()).toEqual(['_id_', 'at_-1', 'siteId_1_visitorKey_1']);
    const indexes = await Visit.listIndexes();
    expect(indexes.find((index) => index.name === 'siteId_1_visitorKey_1')).toMatchObject({
      key: { siteId: 1, visitorKey: 1 },
      unique: true,
    });
    expect(indexes.find((index) => index.name === 'at_-1')).toMatchObject({ key: { at: -1 } });
    // The declared unique index still holds; the dropped ones are really gone.
    const duplicate = { siteId: 's3', visitorKey: 'v', path: '/again', at: new Date() };
    await expect(Visit.create(duplicate)).rejects.toMatchObject({ code: 11000 });
    await expect(Visit.collection.dropIndex('path_1')).rejects.toMatchObject({ code: 27 });
    // A second sync finds nothing to do.
    expect(await Visit.syncIndexes()).toEqual([]);
  });
});
