import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnApp, type ChildApp } from '../support/compiled-app.js';

const dataDir = mkdtempSync(join(tmpdir(), 'siteline-boot-'));
const children: ChildApp[] = [];

afterAll(() => {
  for (const child of children) child.process.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function waitForReady(url: string, child: ChildApp): Promise<void> {
  for (let attempt = 0; attempt < 150; attempt++) {
    if (child.process.exitCode !== null) throw new Error(`app exited early:\n${child.output()}`);
    const ok = await fetch(`${url}/health/ready`).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`app not ready:\n${child.output()}`);
}

describe('booting Siteline as a process', () => {
  it('refuses to start in production without JWT_SECRET, naming the variable', async () => {
    const child = await spawnApp({ NODE_ENV: 'production', DATA_DIR: dataDir, PORT: '0' });
    children.push(child);
    expect(await child.exited).not.toBe(0);
    expect(child.output()).toContain('JWT_SECRET');
  });

  it('starts on the embedded store with a one-line warning, serves readiness and docs, and stops on SIGTERM', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = await spawnApp({ DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitForReady(url, child);
    expect(child.output()).toMatch(/MONGODB_URI is not set: using the embedded store/);
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    child.process.kill('SIGTERM');
    // Nest closes the app, then re-raises the signal so the exit status stays conventional (143).
    expect(await child.exited).toBe('SIGTERM');
    expect(child.output()).toContain('MongoDB connection closed');
  });
});
