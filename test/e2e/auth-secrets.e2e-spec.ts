import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { freePort, waitForChildReady } from '../support/child-app.js';
import { spawnApp, type ChildApp } from '../support/compiled-app.js';
import { startTestDatabase, type TestDatabase } from '../support/test-app.js';
import { createKey, createSite } from '../factories/sites.js';
import { createUser, login } from '../factories/users.js';

/**
 * Runs Siteline as its own process (so its real stdout is what we read, at LOG_LEVEL=debug),
 * drives every path that handles a secret, then searches every stored document and every log
 * line for each secret it saw.
 */
describe('no password, token or key in clear in the database or the logs', () => {
  const adminPassword = `SENTINEL-admin-${randomBytes(6).toString('hex')}`;
  const userPassword = `SENTINEL-pass-${randomBytes(6).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-sentinel-'));
  let port: number;
  let url: string;
  let database: TestDatabase;
  let child: ChildApp;

  beforeAll(async () => {
    database = await startTestDatabase();
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = await spawnApp({
      NODE_ENV: 'development',
      PORT: String(port),
      DATA_DIR: dataDir,
      MONGODB_URI: database.uri,
      LOG_LEVEL: 'debug',
      REVERSE_DNS: 'off',
      ADMIN_EMAIL: 'sentinel-admin@siteline.test',
      ADMIN_PASSWORD: adminPassword,
    });
    await waitForChildReady(url, child, 30_000);
  }, 120_000);

  afterAll(async () => {
    child?.process.kill('SIGKILL');
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every secret out of MongoDB and stdout/stderr', async () => {
    const secrets: string[] = [adminPassword, userPassword];
    const admin = await login(url, 'sentinel-admin@siteline.test', adminPassword);
    const site = await createSite(url, admin.accessToken);
    const user = await createUser(url, admin.accessToken, { password: userPassword, siteIds: [site.id] });
    const key = await createKey(url, admin.accessToken, site.id, ['ingest', 'read']);
    const session = await login(url, user.email, userPassword);
    const refreshed = await request(url)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: session.refreshToken })
      .expect(200);
    const rotated = await request(url)
      .post(`/api/v1/sites/${site.id}/keys/${key.id}/rotate`)
      .auth(admin.accessToken, { type: 'bearer' })
      .expect(201);
    secrets.push(admin.accessToken, admin.refreshToken, key.key, session.accessToken, session.refreshToken);
    secrets.push(refreshed.body.accessToken, refreshed.body.refreshToken, rotated.body.key);

    // Paths that fail or warn, where a careless log line would echo what it got.
    await request(url)
      .post('/api/v1/auth/login')
      .send({ email: user.email, password: `${userPassword}-wrong` })
      .expect(401);
    await request(url)
      .post('/api/v1/auth/login')
      .send({ email: `nobody-${userPassword}@siteline.test`, password: userPassword })
      .expect(401);
    await request(url).post('/api/v1/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
    await request(url).get('/api/v1/sites/current').set('Authorization', key.key).expect(401);
    await request(url).get('/api/v1/sites/current').set('X-Api-Key', rotated.body.key).expect(200);
    await request(url).get('/api/v1/auth/me').auth(refreshed.body.accessToken, { type: 'bearer' }).expect(200);
    await request(url).get('/api/v1/auth/me').auth(`${refreshed.body.accessToken}x`, { type: 'bearer' }).expect(401);
    await request(url)
      .get(`/api/v1/sites/current?siteId=${site.domain}`)
      .auth(session.accessToken, { type: 'bearer' })
      .expect(200);
    await request(url).get('/api/v1/users').auth(session.accessToken, { type: 'bearer' }).expect(403);
    await request(url)
      .patch(`/api/v1/users/${user.id}`)
      .auth(admin.accessToken, { type: 'bearer' })
      .send({ password: `${userPassword}-new` })
      .expect(200);
    secrets.push(`${userPassword}-new`);
    await sleep(300);

    const collections = await database.db.listCollections().toArray();
    expect(collections.map((collection) => collection.name)).toEqual(
      expect.arrayContaining(['users', 'refresh_tokens', 'site_keys', 'login_failures']),
    );
    const stored: string[] = [];
    for (const { name } of collections) {
      for (const document of await database.db.collection(name).find().toArray()) stored.push(JSON.stringify(document));
    }
    const dump = stored.join('\n');
    const logs = child.output();
    expect(logs).toContain('sentinel-admin@siteline.test');
    // Proof the capture works: the boot lines and the bootstrap line are there.
    expect(logs).toContain('Mapped {/api/v1/auth/login, POST} route');
    for (const secret of secrets) {
      expect({ secret, inDatabase: dump.includes(secret) }).toEqual({ secret, inDatabase: false });
      expect({ secret, inLogs: logs.includes(secret) }).toEqual({ secret, inLogs: false });
    }
    // The sentinel password prefix itself must not leak, not even truncated.
    expect(dump).not.toContain('SENTINEL-');
    expect(logs).not.toContain('SENTINEL-');
  }, 60_000);
});
