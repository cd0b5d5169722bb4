import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * A field left out is named as missing first ("end_date is required"), not by the first rule its
 * absent value fails ("end_date must be shorter than or equal to 10 characters"): one rule for
 * every DTO, query strings and bodies alike, nested fields by their path.
 */
describe('validation messages: a missing field is named as missing', () => {
  let app: TestApp;
  let token: string;
  let site: CreatedSite;
  let key: string;

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token);
    key = (await createKey(app.url, token, site.id)).key;
  });

  afterAll(async () => app.close());

  it.each(['views', 'cities', 'urls'])('GET /api/v1/data/%s without end_date', async (name) => {
    const response = await request(app.url)
      .get(`/api/v1/data/${name}`)
      .query({ siteId: site.id, start_date: '2026-01-01' })
      .auth(token, { type: 'bearer' })
      .expect(400);
    expect(response.body.message).toBe('end_date is required');
  });

  it('GET /api/v1/data/views without either date names both, and a present but wrong one by its rule', async () => {
    const neither = await request(app.url)
      .get('/api/v1/data/views')
      .query({ siteId: site.id })
      .auth(token, { type: 'bearer' })
      .expect(400);
    expect(neither.body.message).toBe('start_date is required; end_date is required');
    const tooLong = await request(app.url)
      .get('/api/v1/data/views')
      .query({ siteId: site.id, start_date: '2026-01-01', end_date: '2026-01-01T00:00' })
      .auth(token, { type: 'bearer' })
      .expect(400);
    expect(tooLong.body.message).toMatch(/^end_date must be shorter than or equal to 10 characters/);
  });

  it('POST /api/v1/sites without name, and without domain', async () => {
    const noName = await request(app.url)
      .post('/api/v1/sites')
      .auth(token, { type: 'bearer' })
      .send({ domain: 'missing-name.example' })
      .expect(400);
    expect(noName.body.message).toBe('name is required');
    const noDomain = await request(app.url)
      .post('/api/v1/sites')
      .auth(token, { type: 'bearer' })
      .send({ name: 'No domain' })
      .expect(400);
    expect(noDomain.body.message).toMatch(/^domain is required/);
  });

  it('POST /api/v1/stats/query without dateRange.to names the nested field', async () => {
    const response = await request(app.url)
      .post('/api/v1/stats/query')
      .auth(token, { type: 'bearer' })
      .send({ siteId: site.id, metrics: ['visitors'], dateRange: { from: '2026-01-01' } })
      .expect(400);
    expect(response.body.message).toMatch(/^dateRange\.to is required/);
  });

  it('POST /api/v1/hits: a hit without url is refused naming it as missing', async () => {
    const response = await request(app.url)
      .post('/api/v1/hits')
      .set('authorization', key)
      .send({ hits: [{ eventId: 'no-url' }] })
      .expect(400);
    expect(JSON.stringify(response.body)).toContain('url is required');
  });
});
