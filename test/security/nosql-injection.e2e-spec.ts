import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createIngestSite, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, BOOTSTRAP_ADMIN, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** True when any key anywhere in the document starts with `$` (an operator stored as data). */
function hasOperatorKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasOperatorKey);
  if (value === null || typeof value !== 'object' || value.constructor?.name === 'ObjectId' || value instanceof Date)
    return false;
  return Object.entries(value).some(([key, item]) => key.startsWith('$') || key.includes('.') || hasOperatorKey(item));
}

describe('security: NoSQL operator injection', () => {
  let app: TestApp;
  let site: IngestSite;
  let other: IngestSite;
  let admin: string;

  beforeAll(async () => {
    app = await startTestApp({ env: { ...bootstrapAdminEnv, INGEST_KEY_RATE_LIMIT: '0', INGEST_IP_RATE_LIMIT: '0' } });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createIngestSite(app, { allowedOrigins: ['https://www.allowed.test'] });
    other = await createIngestSite(app);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', other.key)
      .send(keyHit({ url: '/other-site-secret' }))
      .expect(202);
  }, 60_000);

  afterAll(async () => {
    await app.close();
  });

  it.each([
    ['siteId[$ne]', { 'siteId[$ne]': 'x', start_date: '2024-01-01', end_date: '2024-01-02' }],
    ['siteId[$gt]', { 'siteId[$gt]': '', start_date: '2024-01-01', end_date: '2024-01-02' }],
    ['$where', { siteId: 'x', $where: 'sleep(1000)', start_date: '2024-01-01', end_date: '2024-01-02' }],
    ['a JSON operator as siteId', { siteId: '{"$ne":null}', start_date: '2024-01-01', end_date: '2024-01-02' }],
  ])('read routes refuse %s in the query string', async (_case, query) => {
    const response = await request(app.url).get('/api/v1/data/views').auth(admin, { type: 'bearer' }).query(query);
    expect([400, 404]).toContain(response.status);
    expect(response.body).toMatchObject({ statusCode: response.status, message: expect.any(String) });
  });

  it('refuses operators in JSON filters of the stats query and in login bodies', async () => {
    const filters = [['is', 'country', [{ $ne: null }]], ['is', { $where: '1' }, ['DE']], { $where: 'true' }];
    for (const filter of filters) {
      await request(app.url)
        .post('/api/v1/stats/query')
        .auth(admin, { type: 'bearer' })
        .send({ siteId: site.siteId, metrics: ['visitors'], dateRange: { period: '7d' }, filters: [filter] })
        .expect(400);
    }
    await request(app.url)
      .get('/api/v1/stats/overview')
      .auth(admin, { type: 'bearer' })
      .query({ siteId: site.siteId, period: '7d', filters: JSON.stringify([['is', 'page', [{ $gt: '' }]]]) })
      .expect(400);
    await request(app.url)
      .post('/api/v1/stats/query')
      .auth(admin, { type: 'bearer' })
      .send({ siteId: { $ne: null }, metrics: ['visitors'] })
      .expect(400);
    // A password that is an operator must not match every password.
    await request(app.url)
      .post('/api/v1/auth/login')
      .send({ email: BOOTSTRAP_ADMIN.email, password: { $ne: null } })
      .expect(400);
    await request(app.url)
      .post('/api/v1/auth/login')
      .send({ email: { $gt: '' }, password: 'whatever-password' })
      .expect(400);
  });

  it('refuses operators and dotted or $ keys in hits, and stores no operator as data', async () => {
    const before = await app.database.db.collection('hits').countDocuments();
    const cases: Array<Record<string, unknown>> = [
      keyHit({ url: { $gt: '' } }),
      keyHit({ eventId: { $ne: null } }),
      keyHit({ siteId: { $ne: 'x' } }),
      keyHit({ props: { 'a.b': 1 } }),
      keyHit({ props: { $set: 'x' } }),
      keyHit({ props: { nested: { $gt: 1 } } }),
      { ...keyHit(), $where: 'sleep(100)' },
    ];
    for (const hit of cases) {
      const response = await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send(hit);
      expect(response.status).toBe(400);
    }
    // Browser sends: an operator as siteId must not pick "some site" (match-all).
    const browser = await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://www.allowed.test')
      .send({ siteId: { $ne: null }, url: '/x' });
    expect([400, 401]).toContain(browser.status);
    const traffic = await request(app.url)
      .post('/api/v1/traffic?url[$ne]=x&ip_addr=1.2.3.4')
      .set('Authorization', site.key);
    expect(traffic.status).toBe(400);

    const hits = await app.database.db.collection('hits').find({}).toArray();
    expect(hits).toHaveLength(before);
    expect(hits.filter(hasOperatorKey)).toEqual([]);
    for (const name of await app.database.db.listCollections().toArray()) {
      const documents = await app.database.db.collection(name.name).find({}).toArray();
      expect(
        documents.filter(hasOperatorKey).map((document) => `${name.name}: ${JSON.stringify(document).slice(0, 200)}`),
      ).toEqual([]);
    }
  });

  it('keeps a read key to its own site whatever siteId says', async () => {
    const { SitesService } = await import('../../src/sites/sites.service.js');
    const readKey = (await app.app.get(SitesService).createKey(site.siteId, ['read'])).key;
    for (const siteId of [other.siteId, other.domain, '{"$ne":null}']) {
      const response = await request(app.url)
        .get('/api/v1/data/urls')
        .set('Authorization', readKey)
        .query({ siteId, start_date: '2020-01-01', end_date: '2030-01-01' });
      expect([400, 403, 404]).toContain(response.status);
      expect(JSON.stringify(response.body)).not.toContain('other-site-secret');
    }
  });
});
