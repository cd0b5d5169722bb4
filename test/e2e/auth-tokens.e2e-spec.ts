import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';

const INVALID_TOKEN = 'Bearer error="invalid_token"';

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('auth: every 401 and 403 of the default-deny guard', () => {
  let app: TestApp;
  let secret: string;
  let adminId: string;
  let adminToken: string;

  const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600;
  const signed = (claims: object, options: jwt.SignOptions = {}, key: jwt.Secret = secret) =>
    jwt.sign({ sub: adminId, ver: 0, exp: inTenMinutes(), ...claims }, key, {
      algorithm: 'HS256',
      issuer: 'siteline',
      audience: 'siteline-api',
      ...options,
    });

  const me = (token: string) => request(app.url).get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    // Outside production the JWT secret is generated and kept in DATA_DIR.
    secret = readFileSync(join(app.dataDir, 'jwt.secret'), 'utf8').trim();
    adminToken = (await loginAsBootstrapAdmin(app.url)).accessToken;
    adminId = (await me(adminToken).expect(200)).body.id;
  });

  afterAll(async () => {
    await app.close();
  });

  it('accepts a token crafted with the right secret, issuer and audience (the control case)', async () => {
    await me(signed({})).expect(200);
  });

  it('answers no credentials with 401 and a bare Bearer challenge', async () => {
    const response = await request(app.url).get('/api/v1/auth/me').expect(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    const basic = await request(app.url).get('/api/v1/users').set('Authorization', 'Basic dXNlcjpwYXNz').expect(401);
    expect(basic.headers['www-authenticate']).toBe('Bearer');
  });

  it.each([
    [
      'alg: none',
      () =>
        `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: adminId, ver: 0, iss: 'siteline', aud: 'siteline-api', exp: Math.floor(Date.now() / 1000) + 600 })}.`,
    ],
    ['a wrong signature', () => signed({}, {}, 'a-completely-different-secret-of-enough-length')],
    ['an expired token', () => signed({ exp: Math.floor(Date.now() / 1000) - 5 })],
    ['another issuer', () => signed({}, { issuer: 'someone-else' })],
    ['another audience', () => signed({}, { audience: 'another-api' })],
    [
      'a tampered payload',
      () => {
        const [header, , signature] = signed({}).split('.');
        return `${header}.${base64url({ sub: adminId, ver: 0, role: 'admin', iss: 'siteline', aud: 'siteline-api', exp: 9999999999 })}.${signature}`;
      },
    ],
    ['garbage', () => 'not.a.jwt'],
    [
      'a token without the account claims',
      () =>
        jwt.sign({ hello: 'world', exp: inTenMinutes() }, secret, {
          algorithm: 'HS256',
          issuer: 'siteline',
          audience: 'siteline-api',
        }),
    ],
  ])('rejects %s with 401 invalid_token', async (_case, token) => {
    const response = await me(token()).expect(401);
    expect(response.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  });

  it('rejects RS256 tokens, including one whose "public key" is the HMAC secret (HS/RS confusion)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs256 = jwt.sign({ sub: adminId, ver: 0, exp: inTenMinutes() }, privateKey, {
      algorithm: 'RS256',
      issuer: 'siteline',
      audience: 'siteline-api',
    });
    expect((await me(rs256).expect(401)).headers['www-authenticate']).toBe(INVALID_TOKEN);
    // Header says RS256 but the signature is an HMAC keyed with the server's secret: a verifier
    // that let the token choose its algorithm would treat the secret as an RSA "public key".
    const [, payload] = signed({}).split('.');
    const header = base64url({ alg: 'RS256', typ: 'JWT' });
    const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    expect((await me(`${header}.${payload}.${signature}`).expect(401)).headers['www-authenticate']).toBe(INVALID_TOKEN);
    // Another HMAC strength than the pinned HS256 is refused as well.
    expect((await me(signed({}, { algorithm: 'HS512' })).expect(401)).headers['www-authenticate']).toBe(INVALID_TOKEN);
  });

  it('rejects the token of a deleted account', async () => {
    const viewer = await createUser(app.url, adminToken);
    const { accessToken } = await login(app.url, viewer.email, viewer.password);
    await me(accessToken).expect(200);
    await request(app.url).delete(`/api/v1/users/${viewer.id}`).auth(adminToken, { type: 'bearer' }).expect(204);
    const response = await me(accessToken).expect(401);
    expect(response.headers['www-authenticate']).toBe(INVALID_TOKEN);
  });

  it('gives a viewer 403 on admin routes', async () => {
    const viewer = await createUser(app.url, adminToken);
    const { accessToken } = await login(app.url, viewer.email, viewer.password);
    const response = await request(app.url).get('/api/v1/users').auth(accessToken, { type: 'bearer' }).expect(403);
    expect(response.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'This route needs the admin role' });
    await request(app.url)
      .post('/api/v1/sites')
      .auth(accessToken, { type: 'bearer' })
      .send({ domain: 'x.example', name: 'X' })
      .expect(403);
  });

  it('rejects an unknown site key with 401 invalid_token, in every header form', async () => {
    for (const headers of [
      { Authorization: 'sk_unknown' },
      { Authorization: 'Bearer sk_unknown' },
      { 'X-Api-Key': 'sk_unknown' },
    ]) {
      const response = await request(app.url).get('/api/v1/sites/current').set(headers).expect(401);
      expect(response.headers['www-authenticate']).toBe(INVALID_TOKEN);
    }
  });
});

describe('auth: access-token expiry follows the injected Clock', () => {
  it('accepts a token until JWT_ACCESS_TTL has passed on the clock that issued it', async () => {
    const clock = new FixedClock(new Date('2024-03-15T12:00:00Z'));
    const app = await startTestApp({
      env: { ...bootstrapAdminEnv, JWT_ACCESS_TTL: '15m' },
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    try {
      const { accessToken } = await loginAsBootstrapAdmin(app.url);
      clock.advance(14 * 60 * 1000);
      await request(app.url).get('/api/v1/auth/me').auth(accessToken, { type: 'bearer' }).expect(200);
      clock.advance(60 * 1000);
      const expired = await request(app.url).get('/api/v1/auth/me').auth(accessToken, { type: 'bearer' }).expect(401);
      expect(expired.headers['www-authenticate']).toBe(INVALID_TOKEN);
      expect(expired.body.message).toBe('Token expired');
    } finally {
      await app.close();
    }
  });
});
