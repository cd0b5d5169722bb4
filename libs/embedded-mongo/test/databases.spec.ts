import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Admin, Db } from 'mongodb';
import { startTarget, type Target } from './harness.js';

interface DatabaseInfo {
  name: string;
  sizeOnDisk?: number;
  empty?: boolean;
}

/**
 * listDatabases and dropDatabase. Against a real server other databases exist too (admin,
 * config, local, other specs' databases), so every assertion is about this spec's own names.
 */
describe('database catalogue conformance', () => {
  let target: Target;
  let admin: Admin;
  /** Extra databases this spec creates besides the harness's own (dropped in afterAll). */
  const extra: Db[] = [];

  const database = (suffix: string): Db => {
    const db = target.client.db(`${target.dbName}_${suffix}`);
    extra.push(db);
    return db;
  };
  const listed = async (name: string): Promise<DatabaseInfo | undefined> =>
    ((await admin.listDatabases()).databases as DatabaseInfo[]).find((d) => d.name === name);
  const names = async (): Promise<string[]> =>
    ((await admin.listDatabases({ nameOnly: true })).databases as DatabaseInfo[]).map((d) => d.name);

  beforeAll(async () => {
    target = await startTarget('databases');
    admin = target.client.db('admin').admin();
  });
  afterAll(async () => {
    for (const db of extra) await db.dropDatabase();
    await target.stop();
  });

  it('lists a database once something is written to it, with the fields the driver expects', async () => {
    const db = database('listed');
    expect(await names()).not.toContain(db.databaseName);
    expect(await listed(db.databaseName)).toBeUndefined();

    await db.collection('c').insertOne({ a: 'x'.repeat(100) });
    const info = await listed(db.databaseName);
    // objectContaining: a mongos adds `shards`.
    expect(info).toEqual(
      expect.objectContaining({ name: db.databaseName, sizeOnDisk: expect.any(Number), empty: false }),
    );
    expect(info!.sizeOnDisk).toBeGreaterThan(0);

    const all = await admin.listDatabases();
    expect(all.ok).toBe(1);
    expect(typeof all.totalSize).toBe('number');
    expect(all.totalSize).toBeGreaterThanOrEqual(info!.sizeOnDisk!);
    for (const entry of all.databases as DatabaseInfo[]) {
      expect(entry).toEqual(
        expect.objectContaining({
          name: expect.any(String),
          sizeOnDisk: expect.any(Number),
          empty: expect.any(Boolean),
        }),
      );
    }

    // nameOnly: just the names, no sizes.
    const nameOnly = (await admin.listDatabases({ nameOnly: true })).databases as DatabaseInfo[];
    expect(nameOnly.find((d) => d.name === db.databaseName)).toEqual({ name: db.databaseName });
    for (const entry of nameOnly) expect(Object.keys(entry)).toEqual(['name']);

    // An explicitly created, still empty collection makes the database exist too.
    const created = database('created');
    await created.createCollection('empty');
    expect(await names()).toContain(created.databaseName);
  });

  it('filters listDatabases by name', async () => {
    const a = database('filter_a');
    const b = database('filter_b');
    await a.collection('c').insertOne({ n: 1 });
    await b.collection('c').insertOne({ n: 2 });
    const byName = (await admin.listDatabases({ filter: { name: a.databaseName } })).databases as DatabaseInfo[];
    expect(byName.map((d) => d.name)).toEqual([a.databaseName]);
    const byPrefix = (
      await admin.listDatabases({ nameOnly: true, filter: { name: { $regex: `^${target.dbName}_filter_` } } })
    ).databases as DatabaseInfo[];
    expect(byPrefix.map((d) => d.name).sort()).toEqual([a.databaseName, b.databaseName]);
  });

  it('drops a database: its collections, documents and indexes are gone, other databases stay', async () => {
    const doomed = database('doomed');
    const bystander = database('bystander');
    await doomed.collection('a').insertMany([{ k: 1 }, { k: 2 }]);
    await doomed.collection('a').createIndex({ k: 1 }, { unique: true });
    await expect(doomed.collection('a').insertOne({ k: 1 })).rejects.toMatchObject({ code: 11000 });
    await doomed.collection('b').insertOne({ k: 3 });
    await bystander.collection('a').insertOne({ k: 'kept' });
    expect((await doomed.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual([
      'a',
      'b',
    ]);

    expect(await doomed.dropDatabase()).toBe(true);

    expect(await doomed.listCollections().toArray()).toEqual([]);
    expect(await doomed.collection('a').countDocuments()).toBe(0);
    expect(await doomed.collection('b').find({}).toArray()).toEqual([]);
    const after = await names();
    expect(after).not.toContain(doomed.databaseName);
    expect(after).toContain(bystander.databaseName);
    expect(
      await bystander
        .collection('a')
        .find({}, { projection: { _id: 0 } })
        .toArray(),
    ).toEqual([{ k: 'kept' }]);

    // Writing again recreates the database empty: the unique index went with it (listed and enforced).
    await doomed.collection('a').insertMany([{ k: 1 }, { k: 1 }]);
    expect((await doomed.collection('a').indexes()).map((i) => i.name)).toEqual(['_id_']);
    expect(await names()).toContain(doomed.databaseName);
  });

  it('dropping a database that does not exist succeeds and creates nothing', async () => {
    const ghost = database('ghost');
    expect(await ghost.dropDatabase()).toBe(true);
    expect(await names()).not.toContain(ghost.databaseName);
  });

  it('a database disappears from the list when its last collection is dropped', async () => {
    const db = database('lastcoll');
    await db.collection('only').insertOne({ n: 1 });
    expect(await names()).toContain(db.databaseName);
    expect(await db.collection('only').drop()).toBe(true);
    expect(await names()).not.toContain(db.databaseName);
  });
});
