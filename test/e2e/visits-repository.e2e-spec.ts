import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import type { Visit } from '../../src/sessions/schemas/visit.schema.js';
import { VisitsRepository } from '../../src/sessions/visits.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const visit = (siteId: Types.ObjectId, id: string, minute: number, hits: number): Visit => ({
  _id: id,
  siteId,
  visitorKey: 'visitor',
  start: new Date(Date.UTC(2024, 4, 1, 10, minute)),
  end: new Date(Date.UTC(2024, 4, 1, 10, minute + hits - 1)),
  pageviews: hits,
  hits,
  bounce: hits === 1,
  duration: (hits - 1) * 60,
  entryPath: '/',
  exitPath: '/',
  classification: 'USER',
  source: null,
  referrer: null,
  utmSource: null,
  utmMedium: null,
  utmCampaign: null,
  utmTerm: null,
  utmContent: null,
  countryCode: null,
});

/** The sessionizer's batch write of visits on the store. */
describe('VisitsRepository.writeVisitChanges', () => {
  let app: TestApp;
  let visits: VisitsRepository;

  beforeAll(async () => {
    app = await startTestApp();
    visits = app.app.get(VisitsRepository);
  });

  afterAll(async () => {
    await app.close();
  });

  const stored = (siteId: Types.ObjectId) =>
    app.database.db
      .collection<Visit>('visits')
      .find({ siteId }, { sort: { _id: 1 } })
      .toArray();

  it('inserts new visits, replaces changed ones and deletes stale ones in one write', async () => {
    const siteId = new Types.ObjectId();
    await visits.writeVisitChanges({
      created: [visit(siteId, 'a', 0, 1), visit(siteId, 'b', 30, 1)],
      changed: [],
      staleIds: [],
    });
    await visits.writeVisitChanges({
      created: [visit(siteId, 'c', 50, 2)],
      changed: [visit(siteId, 'a', 0, 3)],
      staleIds: ['b'],
    });

    expect((await stored(siteId)).map((item) => [item._id, item.hits])).toEqual([
      ['a', 3],
      ['c', 2],
    ]);
    // Stored without its null fields, but for `utmSource`, the mark of a visit that has its attribution.
    const [storedA] = await stored(siteId);
    expect(Object.keys(storedA).filter((field) => storedA[field as keyof Visit] === null)).toEqual(['utmSource']);
    for (const absent of ['source', 'referrer', 'utmMedium', 'countryCode']) expect(storedA).not.toHaveProperty(absent);
    expect(storedA).toMatchObject({ entryPath: '/', exitPath: '/' });
  });

  it('replaces a "new" visit that another instance stored meanwhile instead of failing the batch', async () => {
    const siteId = new Types.ObjectId();
    await visits.writeVisitChanges({ created: [visit(siteId, 'd', 0, 1)], changed: [], staleIds: [] });
    await visits.writeVisitChanges({
      created: [visit(siteId, 'd', 0, 4), visit(siteId, 'e', 40, 1)],
      changed: [],
      staleIds: [],
    });

    expect((await stored(siteId)).map((item) => [item._id, item.hits])).toEqual([
      ['d', 4],
      ['e', 1],
    ]);
  });
});
