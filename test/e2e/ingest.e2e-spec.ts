import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Db } from 'mongodb';
import request from 'supertest';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createIngestSite, FIREFOX_UA, keyHit, SEED_GOOGLEBOT_UA, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('ingest: site-analytics traffic form', () => {
  let app: TestApp;
  let db: Db;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp();
    db = app.database.db;
    site = await createIngestSite(app);
  });

  afterAll(async () => {
    await app.close();
  });

  it('stores the seed example (Googlebot, 127.0.0.1, /) as BOT with reason isbot and a visit after flush', async () => {
    const response = await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', site.key)
      .query({ url: '/', ip_addr: '127.0.0.1', user_agent: SEED_GOOGLEBOT_UA })
      .expect(202);
    expect(response.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    await app.app.get(SessionsService).flush(site.siteId);
    const hits = await db.collection('hits').find({ siteId: { $exists: true } }).toArray();
    expect(hits).toHaveLength(1);
    const [hit] = hits;
    expect(hit).toMatchObject({
      host: site.domain,
      path: '/',
      name: 'pageview',
      classification: 'BOT',
      botReason: 'isbot',
      device: 'mobile',
      os: 'Android',
      countryCode: null,
      city: null,
    });
    expect(hit.visitorKey).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof hit.visitId).toBe('string');
    expect(JSON.stringify(hit)).not.toContain('127.0.0.1');
    const visit = await db.collection('visits').findOne({ _id: hit.visitId });
    expect(visit).toMatchObject({ pageviews: 1, hits: 1, bounce: true, duration: 0, classification: 'BOT' });
  });
});
