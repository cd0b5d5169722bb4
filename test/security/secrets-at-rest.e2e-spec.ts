import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EJSON } from 'bson';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, waitForChildReady } from '../support/child-app.js';
import { spawnApp, type ChildApp } from '../support/compiled-app.js';
import { startTestDatabase, type TestDatabase } from '../support/test-app.js';

/**
 * Distinctive values that must never be written to MongoDB or to the logs in clear. The IPs are
 * public addresses geoip-lite knows, so enrichment really runs on them.
 */
const SENTINELS = {
  adminPassword: 'Sentinel-Admin-Pw-7f3a9c1e',
  viewerPassword: 'Sentinel-Viewer-Pw-0b5d2e8a',
  wrongPassword: 'Sentinel-Wrong-Pw-44c1a9d3',
  jwtSecret: 'sentinel-jwt-secret-5e8f0c2b7a1d4f6e9c3b',
  visitorSecret: 'sentinel-visitor-secret-9d2c7b4e1f8a3c6d5e',
  keyIp: '81.2.69.142',
  trafficIp: '81.2.69.160',
  browserIp: '81.2.69.143',
  userId: 'sentinel-user-id-63e1b7',
};

describe('security: no secret, credential or raw IP at rest or in the logs', () => {
  let database: TestDatabase;
  let child: ChildApp;
  let url: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-sentinel-'));
  const issued: string[] = [];

  beforeAll(async () => {
    database = await startTestDatabase();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = await spawnApp({
      PORT: String(port),
      DATA_DIR: dataDir,
      MONGODB_URI: database.uri,
      LOG_LEVEL: 'trace',
      REVERSE_DNS: 'off',
      TRUST_PROXY: 'true',
      JWT_SECRET: SENTINELS.jwtSecret,
      VISITOR_SECRET: SENTINELS.visitorSecret,
      ADMIN_EMAIL: 'sentinel-admin@siteline.test',
      ADMIN_PASSWORD: SENTINELS.adminPassword,
    });
    await waitForChildReady(url, child, 30_000);
  }, 90_000);

  afterAll(async () => {
    child?.process.kill('SIGKILL');
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  it('after a full scenario, no sentinel appears in any collection or log line', async () => {
    const login = await call('POST', '/api/v1/auth/login', {
      email: 'sentinel-admin@siteline.test',
      password: SENTINELS.adminPassword,
    });
    expect(login.status).toBe(200);
    const access = String(login.json.accessToken);
    const auth = { authorization: `Bearer ${access}` };
    issued.push(access, String(login.json.refreshToken));
    await call('POST', '/api/v1/auth/login', {
      email: 'sentinel-admin@siteline.test',
      password: SENTINELS.wrongPassword,
    });

    const site = await call(
      'POST',
      '/api/v1/sites',
      { domain: 'sentinel.example', name: 'Sentinel', allowedOrigins: ['https://sentinel.example'] },
      auth,
    );
    expect(site.status).toBe(201);
    const siteId = String(site.json.id);
    const key = await call('POST', `/api/v1/sites/${siteId}/keys`, { scopes: ['ingest', 'read'] }, auth);
    const rawKey = String(key.json.key);
    issued.push(rawKey);
    const viewer = await call(
      'POST',
      '/api/v1/users',
      { email: 'sentinel-viewer@siteline.test', password: SENTINELS.viewerPassword, role: 'viewer', siteIds: [siteId] },
      auth,
    );
    expect(viewer.status).toBe(201);
    const viewerLogin = await call('POST', '/api/v1/auth/login', {
      email: 'sentinel-viewer@siteline.test',
      password: SENTINELS.viewerPassword,
    });
    issued.push(String(viewerLogin.json.accessToken), String(viewerLogin.json.refreshToken));
    const refreshed = await call('POST', '/api/v1/auth/refresh', { refreshToken: viewerLogin.json.refreshToken });
    issued.push(String(refreshed.json.accessToken), String(refreshed.json.refreshToken));

    expect(
      (
        await call(
          'POST',
          '/api/v1/hits',
          { url: '/a', ip: SENTINELS.keyIp, userId: SENTINELS.userId, props: { plan: 'pro' } },
          { authorization: rawKey },
        )
      ).status,
    ).toBe(202);
    expect(
      (
        await call('POST', `/api/v1/traffic?url=%2Fb&ip_addr=${SENTINELS.trafficIp}&user_agent=curl`, undefined, {
          authorization: rawKey,
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await call(
          'POST',
          '/api/v1/hits',
          { siteId, url: '/c' },
          { origin: 'https://sentinel.example', 'x-forwarded-for': SENTINELS.browserIp },
        )
      ).status,
    ).toBe(202);
    // Errors are logged too: a bad key, a bad token, a body naming a password.
    await call('POST', '/api/v1/hits', { url: '/d', ip: SENTINELS.keyIp }, { authorization: `${rawKey}x` });
    await call('GET', '/api/v1/auth/me', undefined, { authorization: `Bearer ${access}x` });
    const today = new Date().toISOString().slice(0, 10);
    const read = await call('GET', `/api/v1/data/countries?start_date=${today}&end_date=${today}`, undefined, {
      authorization: rawKey,
    });
    expect(read.json).toBeInstanceOf(Array);
    expect(JSON.stringify(read.json)).toContain('GB');
    await call('POST', '/api/v1/auth/logout', { refreshToken: refreshed.json.refreshToken });
    await sleep(1500);

    const secrets = [...Object.values(SENTINELS), ...issued].filter((value) => value.length >= 8);
    const found: string[] = [];
    for (const { name } of await database.db.listCollections().toArray()) {
      for (const document of await database.db.collection(name).find({}).toArray()) {
        const text = EJSON.stringify(document);
        for (const secret of secrets) if (text.includes(secret)) found.push(`${name} contains ${secret.slice(0, 12)}…`);
      }
    }
    const logs = child.output();
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).toContain('"statusCode":202');
    for (const secret of secrets) if (logs.includes(secret)) found.push(`logs contain ${secret.slice(0, 12)}…`);
    expect(found).toEqual([]);
    expect(await database.db.collection('hits').countDocuments()).toBe(3);
  }, 120_000);
});
