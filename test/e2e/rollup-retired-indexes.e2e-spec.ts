import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RETIRED_ROLLUP_INDEXES } from '../../src/stats/rollups/rollup.repository.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

/**
 * Upgrading needs no step by hand: an index that an earlier row version created and this one no
 * longer uses is dropped when the app boots on the database, while an index an operator created
 * under a name of their own stays.
 */
describe('indexes retired by a row version', () => {
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    database = await startTestDatabase();
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await database.close();
  });

  const indexNames = async (collection: string) =>
    (await database.db.collection(collection).indexes()).map((index) => index.name);

  it('drops them at boot, leaves an operator’s own index, and boots again once they are gone', async () => {
    const visitorDays = database.db.collection('stats_visitor_days');
    // As version 11 left the collection: its visitor index, plus one an operator added by hand.
    await visitorDays.createIndex({ siteId: 1, classification: 1, visitorKey: 1 });
    await visitorDays.createIndex({ siteId: 1, day: 1, path: 1 }, { name: 'operator_pages' });
    expect(await indexNames('stats_visitor_days')).toEqual(
      expect.arrayContaining(['siteId_1_classification_1_visitorKey_1', 'operator_pages']),
    );

    apps.push(await startTestApp({ database }));
    const afterUpgrade = await indexNames('stats_visitor_days');
    for (const { collection, name } of RETIRED_ROLLUP_INDEXES) expect(await indexNames(collection)).not.toContain(name);
    expect(afterUpgrade).toContain('operator_pages');

    // A second instance, or the next boot, finds nothing to drop and starts all the same.
    apps.push(await startTestApp({ database }));
    expect(await indexNames('stats_visitor_days')).toContain('operator_pages');
  });
});
