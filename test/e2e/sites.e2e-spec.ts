import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createKey, createSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';

describe('sites: CRUD, viewer visibility and site keys', () => {
  let app: TestApp;
  let admin: string;

  const asAdmin = () => ({ Authorization: `Bearer ${admin}` });

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
  });

  afterAll(async () => {
    await app.close();
  });

  it('creates a site with normalized domain and origins and the documented defaults', async () => {
    const response = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'HTTPS://Shop.Example.com/', name: 'Shop', allowedOrigins: ['https://App.Example.net/'] })
      .expect(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      domain: 'shop.example.com',
      name: 'Shop',
      timezone: 'UTC',
      allowedOrigins: ['https://app.example.net'],
      respectDoNotTrack: false,
      createdAt: expect.any(String),
    });
    const stored = await app.database.db.collection('sites').findOne({ domain: 'shop.example.com' });
    expect(stored).toMatchObject({ name: 'Shop', timezone: 'UTC' });
  });

  it('validates the time zone, domain and origins', async () => {
    const badZone = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'tz.example', name: 'TZ', timezone: 'Mars/Olympus' })
      .expect(400);
    expect(badZone.body.message).toContain('timezone');
    await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'tz.example', name: 'TZ', timezone: 'America/New_York' })
      .expect(201);
    const badDomain = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'not a domain', name: 'X' })
      .expect(400);
    expect(badDomain.body.message).toContain('domain');
    const badOrigin = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'o.example', name: 'O', allowedOrigins: ['https://o.example/path'] })
      .expect(400);
    expect(badOrigin.body.message).toContain('allowedOrigins');
    const unknownField = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'u.example', name: 'U', owner: 'me' })
      .expect(400);
    expect(unknownField.body.message).toContain('owner');
  });

  it('refuses null for a field with 400 naming it, on create and update, and changes nothing', async () => {
    // No site setting is cleared by null: a PATCH leaves a field out to keep it, and sends [] or
    // 'UTC' to reset it. null is refused with class-validator's message for the field.
    const created = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'null-tz.example', name: 'Null', timezone: null })
      .expect(400);
    expect(created.body.message).toMatch(/^timezone must be a string/);
    const origins = await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'null-origins.example', name: 'Null', allowedOrigins: null })
      .expect(400);
    expect(origins.body.message).toContain('allowedOrigins must be an array');

    const site = await createSite(app.url, admin, { timezone: 'Europe/Berlin', allowedOrigins: ['https://a.example'] });
    for (const [field, message] of [
      ['domain', /\bdomain must be a string/],
      ['name', /\bname must be a string/],
      ['timezone', /\btimezone must be a string/],
      ['allowedOrigins', /\ballowedOrigins must be an array/],
      ['respectDoNotTrack', /\brespectDoNotTrack must be a boolean/],
    ] as const) {
      const response = await request(app.url)
        .patch(`/api/v1/sites/${site.id}`)
        .set(asAdmin())
        .send({ [field]: null })
        .expect(400);
      expect(response.body.message).toMatch(message);
    }
    const keys = await request(app.url)
      .post(`/api/v1/sites/${site.id}/keys`)
      .set(asAdmin())
      .send({ scopes: null })
      .expect(400);
    expect(keys.body.message).toContain('scopes must be an array');
    const after = await request(app.url).get(`/api/v1/sites/${site.id}`).set(asAdmin()).expect(200);
    expect(after.body).toEqual({ ...site, createdAt: expect.any(String) });
  });

  it('refuses a duplicate domain with 409', async () => {
    await createSite(app.url, admin, { domain: 'dup.example' });
    await request(app.url)
      .post('/api/v1/sites')
      .set(asAdmin())
      .send({ domain: 'DUP.example', name: 'Again' })
      .expect(409);
  });

  it('updates and deletes a site', async () => {
    const site = await createSite(app.url, admin);
    const updated = await request(app.url)
      .patch(`/api/v1/sites/${site.id}`)
      .set(asAdmin())
      .send({ timezone: 'Europe/Berlin', respectDoNotTrack: true })
      .expect(200);
    expect(updated.body).toMatchObject({
      id: site.id,
      domain: site.domain,
      timezone: 'Europe/Berlin',
      respectDoNotTrack: true,
    });
    await request(app.url)
      .patch(`/api/v1/sites/${site.id}`)
      .set(asAdmin())
      .send({ timezone: 'Nowhere/Land' })
      .expect(400);
    await request(app.url).delete(`/api/v1/sites/${site.id}`).set(asAdmin()).expect(204);
    await request(app.url).get(`/api/v1/sites/${site.id}`).set(asAdmin()).expect(404);
    await request(app.url).delete(`/api/v1/sites/${site.id}`).set(asAdmin()).expect(404);
  });

  it('shows a viewer only its own sites: 403 for any other', async () => {
    const mine = await createSite(app.url, admin);
    const theirs = await createSite(app.url, admin);
    const viewer = await createUser(app.url, admin, { siteIds: [mine.id] });
    const token = (await login(app.url, viewer.email, viewer.password)).accessToken;
    const list = await request(app.url).get('/api/v1/sites').auth(token, { type: 'bearer' }).expect(200);
    expect(list.body.map((site: { id: string }) => site.id)).toEqual([mine.id]);
    await request(app.url).get(`/api/v1/sites/${mine.id}`).auth(token, { type: 'bearer' }).expect(200);
    await request(app.url).get(`/api/v1/sites/${theirs.id}`).auth(token, { type: 'bearer' }).expect(403);
    await request(app.url)
      .get('/api/v1/sites/current')
      .query({ siteId: theirs.domain })
      .auth(token, { type: 'bearer' })
      .expect(403);
    const current = await request(app.url).get('/api/v1/sites/current').auth(token, { type: 'bearer' }).expect(200);
    expect(current.body).toMatchObject({ id: mine.id, domain: mine.domain });
    await request(app.url)
      .patch(`/api/v1/sites/${mine.id}`)
      .auth(token, { type: 'bearer' })
      .send({ name: 'Mine now' })
      .expect(403);
    await request(app.url).post(`/api/v1/sites/${mine.id}/keys`).auth(token, { type: 'bearer' }).send({}).expect(403);
  });

  it('resolves the readable site for admins by id or domain, 404 when unknown, 400 when ambiguous', async () => {
    const site = await createSite(app.url, admin);
    const byDomain = await request(app.url)
      .get('/api/v1/sites/current')
      .query({ siteId: site.domain.toUpperCase() })
      .set(asAdmin())
      .expect(200);
    expect(byDomain.body.id).toBe(site.id);
    const byId = await request(app.url)
      .get('/api/v1/sites/current')
      .query({ siteId: site.id })
      .set(asAdmin())
      .expect(200);
    expect(byId.body.domain).toBe(site.domain);
    await request(app.url).get('/api/v1/sites/current').query({ siteId: 'nowhere.example' }).set(asAdmin()).expect(404);
    const ambiguous = await request(app.url).get('/api/v1/sites/current').set(asAdmin()).expect(400);
    expect(ambiguous.body.message).toBe('siteId is required');
  });

  describe('keys', () => {
    it('issues an ingest key by default, shown once and stored only as a hash', async () => {
      const site = await createSite(app.url, admin);
      const issued = await createKey(app.url, admin, site.id);
      expect(issued).toEqual({
        id: expect.any(String),
        key: expect.stringMatching(/^sk_[\w-]{43}$/),
        scopes: ['ingest'],
        prefix: issued.key.slice(0, 9),
        createdAt: expect.any(String),
      });
      const stored = await app.database.db.collection('site_keys').find().toArray();
      expect(JSON.stringify(stored)).not.toContain(issued.key);
      const list = await request(app.url).get(`/api/v1/sites/${site.id}/keys`).set(asAdmin()).expect(200);
      expect(list.body).toEqual([
        { id: issued.id, prefix: issued.prefix, scopes: ['ingest'], createdAt: expect.any(String), revokedAt: null },
      ]);
      expect(JSON.stringify(list.body)).not.toContain(issued.key);
    });

    it('rejects unknown scopes', async () => {
      const site = await createSite(app.url, admin);
      const response = await request(app.url)
        .post(`/api/v1/sites/${site.id}/keys`)
        .set(asAdmin())
        .send({ scopes: ['admin'] })
        .expect(400);
      expect(response.body.message).toContain('scopes');
    });

    it('lets a read key read its own site in every header form, and no other site', async () => {
      const siteA = await createSite(app.url, admin);
      const siteB = await createSite(app.url, admin);
      const { key } = await createKey(app.url, admin, siteA.id, ['read']);
      for (const headers of [{ Authorization: key }, { Authorization: `Bearer ${key}` }, { 'X-Api-Key': key }]) {
        const response = await request(app.url).get('/api/v1/sites/current').set(headers).expect(200);
        expect(response.body).toMatchObject({ id: siteA.id, domain: siteA.domain });
      }
      await request(app.url)
        .get('/api/v1/sites/current')
        .query({ siteId: siteA.domain })
        .set('Authorization', key)
        .expect(200);
      await request(app.url)
        .get('/api/v1/sites/current')
        .query({ siteId: siteB.id })
        .set('Authorization', key)
        .expect(403);
      await request(app.url)
        .get('/api/v1/sites/current')
        .query({ siteId: 'unknown.example' })
        .set('Authorization', key)
        .expect(403);
    });

    it('gives an ingest-only key 403 on read routes and any key 403 on admin routes', async () => {
      const site = await createSite(app.url, admin);
      const ingest = await createKey(app.url, admin, site.id);
      const both = await createKey(app.url, admin, site.id, ['ingest', 'read']);
      const read = await request(app.url).get('/api/v1/sites/current').set('Authorization', ingest.key).expect(403);
      expect(read.body.message).toBe('This site key lacks the read scope');
      await request(app.url).get('/api/v1/sites/current').set('Authorization', both.key).expect(200);
      for (const key of [ingest.key, both.key]) {
        await request(app.url).get('/api/v1/sites').set('Authorization', key).expect(403);
        await request(app.url).get('/api/v1/users').set('X-Api-Key', key).expect(403);
        await request(app.url).get('/api/v1/auth/me').set('Authorization', `Bearer ${key}`).expect(403);
        await request(app.url).post(`/api/v1/sites/${site.id}/keys`).set('Authorization', key).send({}).expect(403);
      }
    });

    it('rotates a key: the new one works with the same scopes, the old one gets 401', async () => {
      const site = await createSite(app.url, admin);
      const old = await createKey(app.url, admin, site.id, ['read']);
      await request(app.url).get('/api/v1/sites/current').set('Authorization', old.key).expect(200);
      const rotated = await request(app.url)
        .post(`/api/v1/sites/${site.id}/keys/${old.id}/rotate`)
        .set(asAdmin())
        .expect(201);
      expect(rotated.body).toMatchObject({ scopes: ['read'], key: expect.stringMatching(/^sk_/) });
      expect(rotated.body.key).not.toBe(old.key);
      const stale = await request(app.url).get('/api/v1/sites/current').set('Authorization', old.key).expect(401);
      expect(stale.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      await request(app.url).get('/api/v1/sites/current').set('Authorization', rotated.body.key).expect(200);
      await request(app.url).post(`/api/v1/sites/${site.id}/keys/${old.id}/rotate`).set(asAdmin()).expect(404);
      const list = await request(app.url).get(`/api/v1/sites/${site.id}/keys`).set(asAdmin()).expect(200);
      expect(
        list.body.map((key: { id: string; revokedAt: string | null }) => [key.id, key.revokedAt !== null]),
      ).toEqual([
        [old.id, true],
        [rotated.body.id, false],
      ]);
    });

    it('revokes a key at once, even right after it was used (and cached)', async () => {
      const site = await createSite(app.url, admin);
      const issued = await createKey(app.url, admin, site.id, ['read']);
      await request(app.url).get('/api/v1/sites/current').set('X-Api-Key', issued.key).expect(200);
      await request(app.url).delete(`/api/v1/sites/${site.id}/keys/${issued.id}`).set(asAdmin()).expect(204);
      await request(app.url).get('/api/v1/sites/current').set('X-Api-Key', issued.key).expect(401);
      await request(app.url)
        .delete(`/api/v1/sites/${site.id}/keys/000000000000000000000000`)
        .set(asAdmin())
        .expect(404);
    });

    it('answers 404 to rotate or revoke under a malformed site id, and leaves the key alone', async () => {
      const site = await createSite(app.url, admin);
      const issued = await createKey(app.url, admin, site.id, ['read']);
      for (const badSiteId of ['12345', 'null', encodeURIComponent('{"$ne":1}')]) {
        await request(app.url).post(`/api/v1/sites/${badSiteId}/keys/${issued.id}/rotate`).set(asAdmin()).expect(404);
        await request(app.url).delete(`/api/v1/sites/${badSiteId}/keys/${issued.id}`).set(asAdmin()).expect(404);
      }
      await request(app.url).get('/api/v1/sites/current').set('Authorization', issued.key).expect(200);
    });

    it('revokes the keys of a deleted site', async () => {
      const site = await createSite(app.url, admin);
      const issued = await createKey(app.url, admin, site.id, ['read']);
      await request(app.url).get('/api/v1/sites/current').set('Authorization', issued.key).expect(200);
      await request(app.url).delete(`/api/v1/sites/${site.id}`).set(asAdmin()).expect(204);
      await request(app.url).get('/api/v1/sites/current').set('Authorization', issued.key).expect(401);
    });
  });
});
