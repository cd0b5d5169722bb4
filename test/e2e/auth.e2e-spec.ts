import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { BOOTSTRAP_ADMIN, bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';

describe('auth: login, refresh, logout, me', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { ...bootstrapAdminEnv, JWT_ACCESS_TTL: '10m' } });
  });

  afterAll(async () => {
    await app.close();
  });

  it('creates the first admin from ADMIN_EMAIL/ADMIN_PASSWORD, storing only a scrypt hash', async () => {
    const users = await app.database.db.collection('users').find().toArray();
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ email: BOOTSTRAP_ADMIN.email, role: 'admin' });
    expect(users[0].passwordHash).toMatch(/^scrypt\$N=32768,r=8,p=1\$/);
  });

  it('logs in and returns a bearer token pair that /me accepts', async () => {
    const tokens = await login(app.url, 'ADMIN@siteline.test', BOOTSTRAP_ADMIN.password);
    expect(tokens).toEqual({
      accessToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 600,
      refreshToken: expect.any(String),
    });
    const me = await request(app.url).get('/api/v1/auth/me').auth(tokens.accessToken, { type: 'bearer' }).expect(200);
    expect(me.body).toEqual({ id: expect.any(String), email: BOOTSTRAP_ADMIN.email, role: 'admin', siteIds: [] });
  });

  it('answers an unknown email and a wrong password identically', async () => {
    const unknown = await request(app.url)
      .post('/api/v1/auth/login')
      .send({ email: 'nobody@siteline.test', password: 'whatever-password' });
    const wrong = await request(app.url)
      .post('/api/v1/auth/login')
      .send({ email: BOOTSTRAP_ADMIN.email, password: 'wrong-password!' });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid email or password' });
    expect(wrong.body).toEqual(unknown.body);
  });

  it('rejects a malformed login body naming the field', async () => {
    const response = await request(app.url).post('/api/v1/auth/login').send({ email: 'a@b.c' }).expect(400);
    expect(response.body.message).toContain('password');
  });

  it('rotates refresh tokens: each works once and gives a new pair', async () => {
    const first = await loginAsBootstrapAdmin(app.url);
    const second = await request(app.url)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: first.refreshToken })
      .expect(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    await request(app.url).get('/api/v1/auth/me').auth(second.body.accessToken, { type: 'bearer' }).expect(200);
    const third = await request(app.url)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: second.body.refreshToken })
      .expect(200);
    expect(third.body.refreshToken).not.toBe(second.body.refreshToken);
  });

  it('revokes the whole family when a rotated refresh token is reused', async () => {
    const first = await loginAsBootstrapAdmin(app.url);
    const second = await request(app.url)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: first.refreshToken })
      .expect(200);
    const reuse = await request(app.url)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: first.refreshToken })
      .expect(401);
    expect(reuse.body.message).toBe('Invalid or expired refresh token');
    // The legitimate holder's newer token dies with the family.
    await request(app.url).post('/api/v1/auth/refresh').send({ refreshToken: second.body.refreshToken }).expect(401);
    // Another login session is not affected.
    const other = await loginAsBootstrapAdmin(app.url);
    await request(app.url).post('/api/v1/auth/refresh').send({ refreshToken: other.refreshToken }).expect(200);
  });

  it('rejects an unknown refresh token', async () => {
    await request(app.url).post('/api/v1/auth/refresh').send({ refreshToken: 'not-a-token' }).expect(401);
  });

  it('logout ends the session of that refresh token only', async () => {
    const session = await loginAsBootstrapAdmin(app.url);
    const kept = await loginAsBootstrapAdmin(app.url);
    await request(app.url).post('/api/v1/auth/logout').send({ refreshToken: session.refreshToken }).expect(204);
    await request(app.url).post('/api/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
    await request(app.url).post('/api/v1/auth/logout').send({ refreshToken: session.refreshToken }).expect(204);
    await request(app.url).post('/api/v1/auth/refresh').send({ refreshToken: kept.refreshToken }).expect(200);
  });

  it('stores refresh tokens only as hashes, with family and expiry', async () => {
    const session = await loginAsBootstrapAdmin(app.url);
    const stored = await app.database.db.collection('refresh_tokens').find().toArray();
    expect(stored.length).toBeGreaterThan(0);
    expect(JSON.stringify(stored)).not.toContain(session.refreshToken);
    expect(stored[0]).toMatchObject({
      tokenHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      familyId: expect.any(String),
      expiresAt: expect.any(Date),
    });
  });

  it('a password change ends earlier access and refresh tokens', async () => {
    const admin = await loginAsBootstrapAdmin(app.url);
    const viewer = await createUser(app.url, admin.accessToken);
    const before = await login(app.url, viewer.email, viewer.password);
    await request(app.url)
      .patch(`/api/v1/users/${viewer.id}`)
      .auth(admin.accessToken, { type: 'bearer' })
      .send({ password: 'a brand new password' })
      .expect(200);
    const me = await request(app.url).get('/api/v1/auth/me').auth(before.accessToken, { type: 'bearer' }).expect(401);
    expect(me.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    await request(app.url).post('/api/v1/auth/refresh').send({ refreshToken: before.refreshToken }).expect(401);
    await login(app.url, viewer.email, 'a brand new password');
  });

  it('documents the bearer and site-key schemes and 401/403 on protected routes', async () => {
    const spec = await request(app.url).get('/openapi.json').expect(200);
    expect(Object.keys(spec.body.components.securitySchemes)).toEqual(expect.arrayContaining(['bearer', 'siteKey']));
    for (const [path, item] of Object.entries(
      spec.body.paths as Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>,
    )) {
      if (!path.startsWith('/api/v1/users') && !path.startsWith('/api/v1/sites') && path !== '/api/v1/auth/me')
        continue;
      for (const operation of Object.values(item)) {
        expect(operation.security).toEqual(expect.arrayContaining([{ bearer: [] }]));
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
    expect(spec.body.paths['/api/v1/sites/current'].get.security).toEqual(expect.arrayContaining([{ siteKey: [] }]));
  });
});

describe('auth: bootstrap admin', () => {
  it('does not create an admin when users already exist, and not without ADMIN_* settings', async () => {
    const plain = await startTestApp();
    try {
      expect(await plain.database.db.collection('users').countDocuments()).toBe(0);
    } finally {
      await plain.close();
    }
    const first = await startTestApp({ env: bootstrapAdminEnv });
    const second = await startTestApp({
      env: { ADMIN_EMAIL: 'other@siteline.test', ADMIN_PASSWORD: 'another-password' },
      database: first.database,
    });
    try {
      const emails = (await first.database.db.collection('users').find().toArray()).map((user) => user.email);
      expect(emails).toEqual([BOOTSTRAP_ADMIN.email]);
    } finally {
      await second.close();
      await first.close();
    }
  });
});
