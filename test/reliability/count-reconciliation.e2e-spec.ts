import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { SitesService } from '../../src/sites/sites.service.js';
import { createIngestSite, type IngestSite } from '../factories/hit-fixtures.js';
import { reconcile, runIngestLoad, sendBatch } from '../support/ingest-load.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SOAK = process.env.SOAK === '1';
/** Default: 20 clients × 6 batches × 5 hits = 600 hits; soak: 100 × 50 × 10 = 50 000. */
const CLIENTS = SOAK ? 100 : 20;
const BATCHES = SOAK ? 50 : 6;
const BATCH_SIZE = SOAK ? 10 : 5;

describe('reliability: counts reconcile under concurrent load', () => {
  let app: TestApp;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_KEY_RATE_LIMIT: '0', INGEST_IP_RATE_LIMIT: '0' } });
    site = await createIngestSite(app);
  });

  afterAll(async () => {
    await app.close();
  });

  it('stores every acknowledged hit exactly once, re-sends count as duplicates, and /data/views totals N', async () => {
    const load = await runIngestLoad({
      url: app.url,
      key: site.key,
      clients: CLIENTS,
      batchesPerClient: BATCHES,
      batchSize: BATCH_SIZE,
      retries: 3,
    });
    const n = CLIENTS * BATCHES * BATCH_SIZE;
    expect(load.outcomes.filter((outcome) => outcome.status !== 202)).toEqual([]);
    expect(load.acknowledged.size).toBe(n);

    // A client that never saw the answer re-sends: every re-sent batch is reported as duplicates.
    const resent = load.outcomes.slice(0, 50);
    const retried = await Promise.all(resent.map((outcome) => sendBatch(app.url, site.key, outcome.eventIds)));
    for (const outcome of retried) {
      expect(outcome.status).toBe(202);
      expect(outcome.body).toEqual({ accepted: 0, duplicates: BATCH_SIZE, rejected: [] });
    }

    const stored = await app.database.db
      .collection<{ eventId?: string }>('hits')
      .find({}, { projection: { eventId: 1 } })
      .toArray();
    expect(reconcile(stored, load.acknowledged)).toEqual({ duplicated: [], lost: [] });
    expect(stored).toHaveLength(n);

    const readKey = (await app.app.get(SitesService).createKey(site.siteId, ['read'])).key;
    const today = new Date().toISOString().slice(0, 10);
    const statsStarted = performance.now();
    const views = await request(app.url)
      .get('/api/v1/data/views')
      .set('Authorization', readKey)
      .query({ start_date: today, end_date: today })
      .expect(200);
    process.stdout.write(
      `[count-reconciliation] hits=${n} requests=${load.outcomes.length + retried.length} views-ms=${Math.round(performance.now() - statsStarted)}\n`,
    );
    expect(views.body.total).toBe(n);
  }, 120_000);
});
