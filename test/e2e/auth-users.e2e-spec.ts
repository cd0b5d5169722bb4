import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createSite } from '../factories/sites.js';
import { BOOTSTRAP_ADMIN, bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';

describe('users: admin-only CRUD', () => {
  let app: TestApp;
  let admin: string;
  let adminId: string;

  const users = () => request(app.url);
  const bearer = () => ({ Authorization: `Bearer ${admin}` });

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    adminId = (await users().get('/api/v1/auth/me').set(bearer()).expect(200)).body.id;
  });

  afterAll(async () => {
    await app.close();
  });

  it('creates a viewer with sites, lower-cases the email, and never returns the hash', async () => {
    const site = await createSite(app.url, admin);
    const response = await users()
      .post('/api/v1/users')
      .set(bearer())
      .send({ email: 'Viewer.One@Siteline.test', password: 'viewer-password', role: 'viewer', siteIds: [site.id] })
      .expect(201);
    expect(response.body).toEqual({
      id: expect.any(String),
      email: 'viewer.one@siteline.test',
      role: 'viewer',
      siteIds: [site.id],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const me = await users()
      .get('/api/v1/auth/me')
      .auth((await login(app.url, 'viewer.one@siteline.test', 'viewer-password')).accessToken, { type: 'bearer' })
      .expect(200);
    expect(me.body).toMatchObject({ role: 'viewer', siteIds: [site.id] });
    const list = await users().get('/api/v1/users').set(bearer()).expect(200);
    expect(list.body.map((user: { email: string }) => user.email)).toEqual(
      expect.arrayContaining([BOOTSTRAP_ADMIN.email, 'viewer.one@siteline.test']),
    );
    expect(JSON.stringify(list.body)).not.toContain('passwordHash');
  });

  it('enforces the minimum password length, valid roles, known sites and unique emails', async () => {
    const short = await users()
      .post('/api/v1/users')
      .set(bearer())
      .send({ email: 'short@siteline.test', password: '123456789', role: 'viewer' })
      .expect(400);
    expect(short.body.message).toContain('password');
    const role = await users()
      .post('/api/v1/users')
      .set(bearer())
      .send({ email: 'role@siteline.test', password: 'long-enough-pw', role: 'owner' })
      .expect(400);
    expect(role.body.message).toContain('role');
    const site = await users()
      .post('/api/v1/users')
      .set(bearer())
      .send({
        email: 'site@siteline.test',
        password: 'long-enough-pw',
        role: 'viewer',
        siteIds: ['0123456789abcdef01234567'],
      })
      .expect(400);
    expect(site.body.message).toContain('siteIds');
    await users()
      .post('/api/v1/users')
      .set(bearer())
      .send({ email: 'ADMIN@siteline.test', password: 'long-enough-pw', role: 'viewer' })
      .expect(409);
  });

  it('updates role and sites; the change applies to existing tokens at once', async () => {
    const siteA = await createSite(app.url, admin);
    const siteB = await createSite(app.url, admin);
    const viewer = await createUser(app.url, admin, { siteIds: [siteA.id] });
    const token = (await login(app.url, viewer.email, viewer.password)).accessToken;
    await users().get(`/api/v1/sites/${siteB.id}`).auth(token, { type: 'bearer' }).expect(403);
    await users()
      .patch(`/api/v1/users/${viewer.id}`)
      .set(bearer())
      .send({ siteIds: [siteB.id] })
      .expect(200);
    await users().get(`/api/v1/sites/${siteB.id}`).auth(token, { type: 'bearer' }).expect(200);
    await users().get(`/api/v1/sites/${siteA.id}`).auth(token, { type: 'bearer' }).expect(403);
    await users().get('/api/v1/users').auth(token, { type: 'bearer' }).expect(403);
    const promoted = await users()
      .patch(`/api/v1/users/${viewer.id}`)
      .set(bearer())
      .send({ role: 'admin' })
      .expect(200);
    expect(promoted.body.role).toBe('admin');
    await users().get('/api/v1/users').auth(token, { type: 'bearer' }).expect(200);
    await users().delete(`/api/v1/users/${viewer.id}`).set(bearer()).expect(204);
    await users().get(`/api/v1/users/${viewer.id}`).set(bearer()).expect(404);
  });

  it('refuses null for a field with 400 naming it; the account, its sites and its sessions stay as they were', async () => {
    const site = await createSite(app.url, admin);
    const viewer = await createUser(app.url, admin, { siteIds: [site.id] });
    const token = (await login(app.url, viewer.email, viewer.password)).accessToken;
    for (const [field, message] of [
      ['email', /\bemail must be an email/],
      ['password', /\bpassword must be a string/],
      ['role', /\brole must be one of the following values/],
      // Not "no sites": an empty list says that.
      ['siteIds', /\bsiteIds must be an array/],
    ] as const) {
      const response = await users()
        .patch(`/api/v1/users/${viewer.id}`)
        .set(bearer())
        .send({ [field]: null })
        .expect(400);
      expect(response.body.message).toMatch(message);
    }
    const created = await users()
      .post('/api/v1/users')
      .set(bearer())
      .send({ email: 'null-sites@example.com', password: 'a long passphrase', role: 'viewer', siteIds: null })
      .expect(400);
    expect(created.body.message).toMatch(/\bsiteIds must be an array/);
    const after = await users().get(`/api/v1/users/${viewer.id}`).set(bearer()).expect(200);
    expect(after.body).toMatchObject({ email: viewer.email, role: 'viewer', siteIds: [site.id] });
    await users().get(`/api/v1/sites/${site.id}`).auth(token, { type: 'bearer' }).expect(200);
  });

  it('answers unknown or malformed ids with 404', async () => {
    await users().get('/api/v1/users/000000000000000000000000').set(bearer()).expect(404);
    await users().get('/api/v1/users/not-an-id').set(bearer()).expect(404);
    await users().patch('/api/v1/users/000000000000000000000000').set(bearer()).send({ role: 'viewer' }).expect(404);
    await users().delete('/api/v1/users/000000000000000000000000').set(bearer()).expect(404);
  });

  it('keeps an admin when the last two demote each other at the same moment', async () => {
    const admins = () => app.database.db.collection('users').countDocuments({ role: 'admin' });
    for (let round = 0; round < 5; round++) {
      const other = await createUser(app.url, admin, { role: 'admin' });
      const otherToken = (await login(app.url, other.email, other.password)).accessToken;
      const [own, theirs] = await Promise.all([
        users().patch(`/api/v1/users/${adminId}`).set(bearer()).send({ role: 'viewer' }),
        users().patch(`/api/v1/users/${other.id}`).auth(otherToken, { type: 'bearer' }).send({ role: 'viewer' }),
      ]);
      expect(await admins()).toBeGreaterThanOrEqual(1);
      expect([own.status, theirs.status]).not.toEqual([200, 200]);
      for (const response of [own, theirs]) expect([200, 409]).toContain(response.status);
      // Put the bootstrap admin back (through whoever is still admin) and remove the other.
      if (own.status === 200)
        await users().patch(`/api/v1/users/${adminId}`).auth(otherToken, { type: 'bearer' }).send({ role: 'admin' });
      await users().delete(`/api/v1/users/${other.id}`).set(bearer()).expect(204);
      expect(await admins()).toBe(1);
    }
  });

  // Runs last: it leaves the bootstrap admin demoted.
  it('never deletes or demotes the last admin', async () => {
    expect(await app.database.db.collection('users').countDocuments({ role: 'admin' })).toBe(1);
    const demote = await users().patch(`/api/v1/users/${adminId}`).set(bearer()).send({ role: 'viewer' }).expect(409);
    expect(demote.body.message).toBe('Cannot remove or demote the last admin');
    await users().delete(`/api/v1/users/${adminId}`).set(bearer()).expect(409);
    const second = await createUser(app.url, admin, { role: 'admin' });
    await users().patch(`/api/v1/users/${adminId}`).set(bearer()).send({ role: 'viewer' }).expect(200);
    const secondToken = (await login(app.url, second.email, second.password)).accessToken;
    await users().delete(`/api/v1/users/${second.id}`).auth(secondToken, { type: 'bearer' }).expect(409);
    expect(await app.database.db.collection('users').countDocuments({ role: 'admin' })).toBe(1);
  });
});
