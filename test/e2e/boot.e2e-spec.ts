import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForChildReady } from '../support/child-app.js';
import { spawnApp, type ChildApp } from '../support/compiled-app.js';

const dataDir = mkdtempSync(join(tmpdir(), 'siteline-boot-'));
const children: ChildApp[] = [];

afterAll(() => {
  for (const child of children) child.process.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('booting Siteline as a process', () => {
  // Every other secret is strong, so the refusal rests on JWT_SECRET alone.
  const STRONG_VISITOR_SECRET = 'visitor-secret-of-forty-characters-0123456';

  it('refuses to start in production without JWT_SECRET, naming the variable', async () => {
    const child = await spawnApp({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      PORT: '0',
      VISITOR_SECRET: STRONG_VISITOR_SECRET,
    });
    children.push(child);
    expect(await child.exited).not.toBe(0);
    expect(child.output()).toContain('JWT_SECRET');
  });

  it('refuses to start in production with a weak JWT_SECRET, naming the variable', async () => {
    const child = await spawnApp({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      PORT: '0',
      JWT_SECRET: 'short',
      VISITOR_SECRET: STRONG_VISITOR_SECRET,
    });
    children.push(child);
    expect(await child.exited).not.toBe(0);
    expect(child.output()).toContain('JWT_SECRET');
  });

  it('starts on the embedded store with a one-line warning, serves readiness and docs, and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = await spawnApp({ DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitForChildReady(url, child);
    expect(child.output()).toMatch(/MONGODB_URI is not set: using the embedded store/);
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    child.process.kill('SIGTERM');
    // Nest closes the app, then re-raises the signal so the exit status stays conventional (143).
    expect(await child.exited).toBe('SIGTERM');
    expect(child.output()).toMatch(/MongoDB connection close: done in \d+ ms/);
  });

  it('keeps what was written before a restart on the embedded store (same DATA_DIR)', async () => {
    const restartDir = mkdtempSync(join(tmpdir(), 'siteline-restart-'));
    const admin = { email: 'restart@siteline.test', password: 'restart-admin-password' };
    const login = (url: string) =>
      fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(admin),
      });
    try {
      const firstPort = await freePort();
      const first = await spawnApp({
        DATA_DIR: restartDir,
        PORT: String(firstPort),
        ADMIN_EMAIL: admin.email,
        ADMIN_PASSWORD: admin.password,
      });
      children.push(first);
      await waitForChildReady(`http://127.0.0.1:${firstPort}`, first);
      expect((await login(`http://127.0.0.1:${firstPort}`)).status).toBe(200);
      first.process.kill('SIGTERM');
      await first.exited;

      // No ADMIN_* this time: the account can only come from the data written by the first run.
      const secondPort = await freePort();
      const second = await spawnApp({ DATA_DIR: restartDir, PORT: String(secondPort) });
      children.push(second);
      await waitForChildReady(`http://127.0.0.1:${secondPort}`, second);
      const response = await login(`http://127.0.0.1:${secondPort}`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { accessToken: string }).accessToken).toEqual(expect.any(String));
      second.process.kill('SIGTERM');
      await second.exited;
    } finally {
      rmSync(restartDir, { recursive: true, force: true });
    }
  });
});
