import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getConnectionToken } from '@nestjs/mongoose';
import type { CommandStartedEvent } from 'mongodb';
import { Types, type Connection } from 'mongoose';
import { HitsRepository } from '../../src/hits/hits.repository.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { VisitorDirtyRepository } from '../../src/sessions/visitor-dirty.repository.js';
import { VisitsRepository } from '../../src/sessions/visits.repository.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

/** More than the driver's default first batch (101 documents), which would need a `getMore`. */
const VISITORS = 300;
const at = new Date('2024-05-01T10:00:00Z');
const CRUD = new Set(['find', 'getMore', 'aggregate', 'insert', 'update', 'delete', 'findAndModify']);

/**
 * A sessionizer batch waits on the store for each of its round trips, so its reads each take
 * exactly one: a claim of hundreds of visitors, and their hits and visits, come back in the
 * first reply rather than a first batch and a `getMore` for the rest.
 */
describe('sessionizer batch round trips', () => {
  let database: TestDatabase;
  let app: TestApp;
  const commands: string[] = [];
  const siteId = new Types.ObjectId();
  const keys = Array.from({ length: VISITORS }, (_, index) => `visitor-${index}`);

  beforeAll(async () => {
    database = await startTestDatabase();
    const uri = new URL(database.uri);
    uri.searchParams.set('monitorCommands', 'true');
    app = await startTestApp({ database, env: { MONGODB_URI: uri.toString() } });
    // The app's own passes would claim the marks this test claims, and send commands of their own.
    app.app.get(SessionsService).deferBackgroundSessionizing();
    const connection = app.app.get<Connection>(getConnectionToken());
    // Reads and writes only: the app's index builds at start run meanwhile.
    connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
      if (CRUD.has(event.commandName)) commands.push(event.commandName);
    });
  });

  afterAll(async () => {
    await app.close();
    await database.close();
  });

  /** The commands `work` sent to the store. */
  async function commandsOf(work: () => Promise<unknown>): Promise<string[]> {
    commands.length = 0;
    await work();
    return [...commands];
  }

  it('claims a batch of hundreds of visitors in three commands, none a getMore', async () => {
    const dirty = app.app.get(VisitorDirtyRepository);
    await dirty.mark(keys.map((visitorKey) => ({ siteId, visitorKey, from: at, to: at })));
    let claimed = 0;
    const sent = await commandsOf(async () => {
      claimed = (await dirty.claimBatch(new Date(), 30_000, VISITORS))?.visitors.length ?? 0;
    });
    expect(claimed).toBe(VISITORS);
    expect(sent).toEqual(['find', 'update', 'find']);
  });

  it("reads the batch's hits and its visits in one command each", async () => {
    await database.db.collection('hits').insertMany(
      keys.map((visitorKey) => ({
        siteId,
        visitorKey,
        ts: at,
        name: 'pageview',
        path: '/',
        classification: 'USER',
        visitId: null,
      })),
    );
    await database.db.collection('visits').insertMany(
      keys.map((visitorKey, index) => ({
        _id: `visit-${index}` as unknown as never,
        siteId,
        visitorKey,
        start: at,
        end: at,
      })),
    );
    let hits = 0;
    let visits = 0;
    const sent = await commandsOf(async () => {
      hits = (await app.app.get(HitsRepository).findVisitorsHits(siteId, keys, at, at)).length;
      visits = (await app.app.get(VisitsRepository).findVisitorsVisitsOverlapping(siteId, keys, at, at)).length;
    });
    expect([hits, visits]).toEqual([VISITORS, VISITORS]);
    expect(sent).toEqual(['find', 'find']);
  });

  it('retires a batch nobody marked again in one command, and frees re-marked visitors with a second', async () => {
    const dirty = app.app.get(VisitorDirtyRepository);
    const items = app.database.db.collection<{ _id: string; claimToken?: string | null }>('visitor_dirty');
    const quiet = keys.map((key) => `quiet-${key}`);
    await dirty.mark(quiet.map((visitorKey) => ({ siteId, visitorKey, from: at, to: at })));
    const first = await dirty.claimBatch(new Date(), 30_000, VISITORS);
    expect(await commandsOf(() => dirty.complete(first!))).toEqual(['delete']);
    expect(await items.countDocuments({ _id: { $in: quiet.map((key) => `${siteId.toHexString()}:${key}`) } })).toBe(0);

    const busy = keys.map((key) => `busy-${key}`);
    await dirty.mark(busy.map((visitorKey) => ({ siteId, visitorKey, from: at, to: at })));
    const second = await dirty.claimBatch(new Date(), 30_000, VISITORS);
    await dirty.mark([{ siteId, visitorKey: busy[0], from: at, to: at }]);
    expect(await commandsOf(() => dirty.complete(second!))).toEqual(['delete', 'update']);
    const left = await items.find({ _id: { $in: busy.map((key) => `${siteId.toHexString()}:${key}`) } }).toArray();
    expect(left.map((item) => [item._id, item.claimToken ?? null])).toEqual([
      [`${siteId.toHexString()}:${busy[0]}`, null],
    ]);
  });
});
