import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Long,
  MongoClient,
  MongoServerError,
  type Binary,
  type ClientSession,
  type CommandStartedEvent,
  type Db,
  type Document,
} from 'mongodb';
import { deploymentOf, startTarget, type Deployment, type Target } from './harness.js';

/** The server's own error: the driver wraps code 20 on a write in "does not support retryable writes". */
function serverError(error: unknown): MongoServerError {
  expect(error).toBeInstanceOf(MongoServerError);
  const { originalError } = error as MongoServerError & { originalError?: unknown };
  return originalError instanceof MongoServerError ? originalError : (error as MongoServerError);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

const lsidOf = (command: Document): string => ((command.lsid as { id: Binary }).id as Binary).toString('hex');

/**
 * Fields the driver adds to ordinary commands: readConcern, writeConcern, lsid and txnNumber.
 * Every test checks through command monitoring that the field was really sent, so it proves the
 * server accepted it rather than that the driver left it out.
 */
describe('read/write concerns, sessions and transactions', () => {
  let target: Target;
  let deployment: Deployment;
  let monitored: MongoClient;
  let db: Db;
  let sent: CommandStartedEvent[];

  const commands = (name: string): Document[] =>
    sent.filter((event) => event.commandName === name).map((event) => event.command);

  beforeAll(async () => {
    target = await startTarget('sessions');
    deployment = await deploymentOf(target);
    monitored = await MongoClient.connect(target.uri, { serverSelectionTimeoutMS: 5000, monitorCommands: true });
    monitored.on('commandStarted', (event) => sent.push(event));
    db = monitored.db(target.dbName);
  });
  afterAll(async () => {
    await monitored.close();
    await target.stop();
  });
  beforeEach(() => {
    sent = [];
  });

  it('accepts readConcern majority and local on reads', async () => {
    const majority = db.collection('reads', { readConcern: { level: 'majority' } });
    await majority.insertMany([
      { k: 'a', n: 1 },
      { k: 'b', n: 2 },
      { k: 'b', n: 3 },
    ]);
    expect(await majority.find({ k: 'b' }, { projection: { _id: 0 } }).toArray()).toEqual([
      { k: 'b', n: 2 },
      { k: 'b', n: 3 },
    ]);
    expect(await majority.countDocuments({ k: 'b' })).toBe(2);
    expect((await majority.distinct('k')).sort()).toEqual(['a', 'b']);
    expect(
      await majority.aggregate([{ $group: { _id: null, total: { $sum: '$n' } } }, { $project: { _id: 0 } }]).toArray(),
    ).toEqual([{ total: 6 }]);
    const local = db.collection('reads', { readConcern: { level: 'local' } });
    expect(await local.findOne({ n: 1 }, { projection: { _id: 0, k: 1 } })).toEqual({ k: 'a' });

    const levels = (name: string) => commands(name).map((command) => (command.readConcern as { level: string }).level);
    expect(levels('find')).toEqual(['majority', 'local']);
    expect(levels('aggregate')).toEqual(['majority', 'majority']); // countDocuments is an aggregate
    expect(levels('distinct')).toEqual(['majority']);
  });

  it('accepts writeConcern { w: majority, j: true } on every kind of write', async () => {
    const writes = db.collection<{ _id: number; v?: string }>('writes', {
      writeConcern: { w: 'majority', journal: true, wtimeoutMS: 10_000 },
    });
    expect((await writes.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }])).insertedCount).toBe(3);
    expect((await writes.updateOne({ _id: 1 }, { $set: { v: 'one' } })).modifiedCount).toBe(1);
    expect(await writes.findOneAndUpdate({ _id: 2 }, { $set: { v: 'two' } }, { returnDocument: 'after' })).toEqual({
      _id: 2,
      v: 'two',
    });
    expect((await writes.deleteOne({ _id: 3 })).deletedCount).toBe(1);
    const bulk = await writes.bulkWrite([
      { insertOne: { document: { _id: 4 } } },
      { updateOne: { filter: { _id: 4 }, update: { $set: { v: 'four' } } } },
    ]);
    expect(bulk.insertedCount).toBe(1);
    expect(bulk.modifiedCount).toBe(1);
    // An operation's own write concern replaces the collection's.
    await writes.insertOne({ _id: 5 }, { writeConcern: { w: 1, journal: true } });
    expect(await writes.find({}).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: 'one' },
      { _id: 2, v: 'two' },
      { _id: 4, v: 'four' },
      { _id: 5 },
    ]);

    const concerns = ['insert', 'update', 'findAndModify', 'delete'].flatMap((name) => {
      expect(commands(name).length).toBeGreaterThan(0);
      return commands(name).map((command) => command.writeConcern);
    });
    expect(concerns).toEqual([
      { w: 'majority', j: true, wtimeout: 10_000 },
      { w: 'majority', j: true, wtimeout: 10_000 },
      { w: 1, j: true },
      { w: 'majority', j: true, wtimeout: 10_000 },
      { w: 'majority', j: true, wtimeout: 10_000 },
      { w: 'majority', j: true, wtimeout: 10_000 },
      { w: 'majority', j: true, wtimeout: 10_000 },
    ]);
  });

  it('runs reads and retryable writes in an explicit session (lsid), with txnNumber only on a replica set', async () => {
    const coll = db.collection<{ _id: string; n: number }>('session');
    const session = monitored.startSession();
    try {
      await coll.insertOne({ _id: 'a', n: 1 }, { session });
      await coll.updateOne({ _id: 'a' }, { $inc: { n: 1 } }, { session });
      await coll.findOneAndUpdate({ _id: 'a' }, { $inc: { n: 1 } }, { session });
      expect(await coll.findOne({ _id: 'a' }, { session })).toEqual({ _id: 'a', n: 3 });
    } finally {
      await session.endSession();
    }
    const id = (session.id!.id as Binary).toString('hex');
    const writes = [...commands('insert'), ...commands('update'), ...commands('findAndModify')];
    expect(writes).toHaveLength(3);
    for (const command of [...writes, ...commands('find')]) expect(lsidOf(command)).toBe(id);
    // The driver numbers retryable writes only where the server supports them. The embedded store
    // must advertise a standalone, or the driver would also start sending transaction fields.
    const retryable = deployment === 'replicaSet' || deployment === 'sharded';
    expect(writes.map((command) => command.txnNumber !== undefined)).toEqual([retryable, retryable, retryable]);
  });

  it('accepts an explicit txnNumber with an lsid (refused only by a real standalone)', async () => {
    const session = monitored.startSession();
    try {
      const command = { insert: 'txn_number', documents: [{ _id: 1 }], txnNumber: Long.fromNumber(1) };
      if (deployment === 'standalone') {
        const error = serverError(await rejection(db.command(command, { session })));
        expect(error).toMatchObject({ code: 20, codeName: 'IllegalOperation' });
        return;
      }
      expect(await db.command(command, { session })).toMatchObject({ ok: 1, n: 1 });
      expect(await db.collection('txn_number').find({}).toArray()).toEqual([{ _id: 1 }]);
      const sentInsert = commands('insert').at(-1)!;
      expect(Long.fromValue(sentInsert.txnNumber as Long).toNumber()).toBe(1);
      expect(lsidOf(sentInsert)).toBe((session.id!.id as Binary).toString('hex'));
    } finally {
      await session.endSession();
    }
  });

  /**
   * Branches on the target: a replica set or mongos commits; a standalone mongod and the embedded
   * store refuse the first command of the transaction with code 20 IllegalOperation ("Transaction
   * numbers are only allowed on a replica set member or mongos"; the driver reports it as "This
   * MongoDB deployment does not support retryable writes" with the server's error as
   * `originalError`), and nothing is written.
   */
  it('commits a transaction on a replica set, refuses it with code 20 elsewhere', async () => {
    const coll = db.collection<{ _id: string }>('txn');
    await db.createCollection('txn');
    const session: ClientSession = monitored.startSession();
    try {
      session.startTransaction();
      if (deployment === 'replicaSet' || deployment === 'sharded') {
        await coll.insertOne({ _id: 't1' }, { session });
        await coll.insertOne({ _id: 't2' }, { session });
        expect(await coll.countDocuments({})).toBe(0); // not visible outside before the commit
        await session.commitTransaction();
        expect(await coll.find({}).sort({ _id: 1 }).toArray()).toEqual([{ _id: 't1' }, { _id: 't2' }]);
        return;
      }

      const refused = serverError(await rejection(coll.insertOne({ _id: 't1' }, { session })));
      expect(refused).toMatchObject({ code: 20, codeName: 'IllegalOperation' });
      expect(refused.errmsg).toMatch(/replica set/);
      const [sentInsert] = commands('insert');
      expect(sentInsert).toMatchObject({ startTransaction: true, autocommit: false });

      const commit = serverError(await rejection(session.commitTransaction()));
      expect(commit).toMatchObject({ code: 20, codeName: 'IllegalOperation' });
      expect(commands('commitTransaction').length).toBeGreaterThan(0);
      expect(await coll.countDocuments({})).toBe(0);
    } finally {
      await session.endSession();
    }
    // The session is usable for ordinary writes afterwards.
    const after = monitored.startSession();
    try {
      await coll.insertOne({ _id: 'plain' }, { session: after });
    } finally {
      await after.endSession();
    }
    expect(await coll.find({}).toArray()).toEqual([{ _id: 'plain' }]);
  });
});
