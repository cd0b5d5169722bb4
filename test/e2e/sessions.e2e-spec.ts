import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Db } from 'mongodb';
import { Types } from 'mongoose';
import request from 'supertest';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { compareHits, sessionize, type SessionHit } from '../../src/sessions/sessionize.js';
import { storedVisit } from '../../src/sessions/visits.repository.js';
import { createIngestSite, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

const IDLE_MINUTES = 30;
const BASE = Date.UTC(2024, 0, 10, 8, 0, 0);

/** The reference: visits of the sorted timestamps as [start, end, count]. */
function referenceVisits(minutes: number[]): Array<[number, number, number]> {
  const sorted = [...minutes].sort((a, b) => a - b);
  const visits: Array<[number, number, number]> = [];
  for (const minute of sorted) {
    const last = visits[visits.length - 1];
    if (last && minute - last[1] <= IDLE_MINUTES) {
      last[1] = minute;
      last[2]++;
    } else visits.push([minute, minute, 1]);
  }
  return visits;
}

async function storedVisits(db: Db, userId: string, sessions: SessionsService, siteId: string) {
  await sessions.flush(siteId);
  const anyHit = await db.collection('hits').findOne({ userKey: sessions.userKey(siteId, userId) });
  const visits = await db.collection('visits').find({ visitorKey: anyHit!.visitorKey }).sort({ start: 1 }).toArray();
  const hits = await db.collection('hits').find({ visitorKey: anyHit!.visitorKey }).toArray();
  return {
    visits: visits.map((visit) => [
      ((visit.start as Date).getTime() - BASE) / 60_000,
      ((visit.end as Date).getTime() - BASE) / 60_000,
      visit.hits as number,
    ]),
    hitVisitIds: new Set(hits.map((hit) => hit.visitId)),
    visitIds: new Set(visits.map((visit) => visit._id)),
  };
}

function hitsFor(userId: string, minutes: number[]) {
  return minutes.map((minute) =>
    keyHit({ userId, timestamp: new Date(BASE + minute * 60_000).toISOString(), url: `/m${minute}` }),
  );
}

describe('sessions: visits equal sessionizing the sorted hits', () => {
  let app: TestApp;
  let site: IngestSite;
  let sessions: SessionsService;

  beforeAll(async () => {
    app = await startTestApp({ env: { SESSION_IDLE_MINUTES: String(IDLE_MINUTES), INGEST_KEY_RATE_LIMIT: '0' } });
    site = await createIngestSite(app);
    sessions = app.app.get(SessionsService);
  });

  afterAll(async () => {
    await app.close();
  });

  it('a late hit bridging two visits merges them', async () => {
    const send = (minutes: number[]) =>
      request(app.url)
        .post('/api/v1/hits')
        .set('Authorization', site.key)
        .send({ hits: hitsFor('bridge', minutes) })
        .expect(202);
    await send([0, 10]);
    await send([50, 55]);
    expect((await storedVisits(app.database.db, 'bridge', sessions, site.siteId)).visits).toEqual([
      [0, 10, 2],
      [50, 55, 2],
    ]);
    await send([30]);
    const after = await storedVisits(app.database.db, 'bridge', sessions, site.siteId);
    expect(after.visits).toEqual([[0, 55, 5]]);
    expect(after.hitVisitIds).toEqual(after.visitIds);
  });

  it('any arrival order and batch split gives the visits of the sorted order (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 14 })
          .chain((minutes) =>
            fc.tuple(fc.constant(minutes), fc.shuffledSubarray(minutes, { minLength: minutes.length })),
          ),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 14, maxLength: 14 }),
        fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
        async ([minutes, arrival], splits, flushAfter) => {
          const userId = `prop-${run++}`;
          let position = 0;
          for (let batch = 0; position < arrival.length; batch++) {
            const part = arrival.slice(position, position + splits[batch]);
            position += part.length;
            await request(app.url)
              .post('/api/v1/hits')
              .set('Authorization', site.key)
              .send({ hits: hitsFor(userId, part) })
              .expect(202);
            if (flushAfter[batch]) await sessions.flush(site.siteId);
          }
          const stored = await storedVisits(app.database.db, userId, sessions, site.siteId);
          expect(stored.visits).toEqual(referenceVisits(minutes));
          expect(stored.hitVisitIds).toEqual(stored.visitIds);
        },
      ),
      { numRuns: 15 },
    );
  });
  it('hits arriving in time order, sessionized between batches, give every field of sessionizing all of them at once (property)', async () => {
    // Live traffic: each batch continues the visitor's last stored visit or starts new ones
    // without the visit's earlier hits being read again; the visits must be those of all the hits.
    let run = 0;
    const hitArbitrary = fc.record({
      gap: fc.oneof(fc.constantFrom(0, IDLE_MINUTES, IDLE_MINUTES + 1), fc.integer({ min: 1, max: 45 })),
      event: fc.boolean(),
      path: fc.constantFrom('/', '/a', '/b'),
      referrer: fc.constantFrom(undefined, 'https://news.example/'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(hitArbitrary, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 12, maxLength: 12 }),
        async (specs, splits) => {
          const userId = `live-${run++}`;
          let minute = 0;
          const hits = specs.map(({ gap, event, path, referrer }) => {
            minute += gap;
            return keyHit({
              userId,
              timestamp: new Date(BASE + minute * 60_000).toISOString(),
              url: `https://shop.example${path}`,
              ...(event ? { name: 'signup' } : {}),
              ...(referrer ? { referrer } : {}),
            });
          });
          for (let batch = 0, position = 0; position < hits.length; batch++) {
            const part = hits.slice(position, position + splits[batch]);
            position += part.length;
            await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send({ hits: part }).expect(202);
            await sessions.flush(site.siteId);
          }
          const db = app.database.db;
          const visitorKey = (await db.collection('hits').findOne({ userKey: sessions.userKey(site.siteId, userId) }))!
            .visitorKey as string;
          const stored = await db.collection('visits').find({ visitorKey }).sort({ start: 1 }).toArray();
          const allHits = (await db.collection<SessionHit>('hits').find({ visitorKey }).toArray()).sort(compareHits);
          const fromScratch = sessionize(new Types.ObjectId(site.siteId), visitorKey, allHits, IDLE_MINUTES * 60_000);
          expect(stored).toEqual(fromScratch.map((group) => storedVisit(group.visit)));
          for (const { visit, hitIds } of fromScratch) {
            const stamped = allHits.filter((hit) => hit.visitId === visit._id).map((hit) => hit._id.toHexString());
            expect(stamped.sort()).toEqual(hitIds.map((id) => id.toHexString()).sort());
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('sessions: two app instances on one database', () => {
  let database: TestDatabase;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    database = await startTestDatabase();
    const env = {
      SESSION_IDLE_MINUTES: String(IDLE_MINUTES),
      INGEST_KEY_RATE_LIMIT: '0',
      VISITOR_SECRET: 'v'.repeat(40),
    };
    first = await startTestApp({ database, env });
    second = await startTestApp({ database, env });
  });

  afterAll(async () => {
    await first.close();
    await second.close();
    await database.close();
  });

  it('hits of one visitor sent through both instances at once give the visits of the sorted order', async () => {
    const site = await createIngestSite(first);
    const minutes = [0, 5, 12, 20, 48, 49, 90, 95, 100, 131, 200, 229, 259];
    const shuffled = [...minutes].sort((a, b) => ((a * 7919) % 13) - ((b * 7919) % 13));
    await Promise.all(
      shuffled.map((minute, index) =>
        request(index % 2 === 0 ? first.url : second.url)
          .post('/api/v1/hits')
          .set('Authorization', site.key)
          .send(hitsFor('two-instances', [minute])[0])
          .expect(202),
      ),
    );
    await second.app.get(SessionsService).flush(site.siteId);
    const stored = await storedVisits(database.db, 'two-instances', first.app.get(SessionsService), site.siteId);
    expect(stored.visits).toEqual(referenceVisits(minutes));
    expect(stored.hitVisitIds).toEqual(stored.visitIds);
  });
});
