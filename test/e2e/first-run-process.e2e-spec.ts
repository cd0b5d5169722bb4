import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, waitForChildReady } from '../support/child-app.js';
import { runCliWithEnv } from '../support/cli.js';
import { spawnApp, type ChildApp } from '../support/compiled-app.js';

const ADMIN = { email: 'first@example.com', password: 'a first admin passphrase' };
const VIEWER = { email: 'cli-beside@example.com', password: 'typed into the cli beside' };

/** Waits for the log line that says where Siteline listens; the app logs it right after listening. */
async function bootLine(child: ChildApp): Promise<{ level: number; msg: string }> {
  for (let waited = 0; waited < 15_000; waited += 100) {
    const line = child
      .output()
      .split('\n')
      .find((text) => text.includes('Siteline is ready'));
    if (line) return JSON.parse(line);
    await sleep(100);
  }
  throw new Error(`no boot line:\n${child.output()}`);
}

async function login(url: string, credentials: { email: string; password: string }): Promise<number> {
  const response = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
  });
  return response.status;
}

/**
 * A fresh install as a user runs it: the compiled app on an empty DATA_DIR with the embedded
 * store (no MONGODB_URI), then the CLI in a "second terminal" on the same DATA_DIR.
 */
describe('first run of the compiled app, with the CLI beside it', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-first-run-'));
  const cliEnv = { NODE_ENV: 'test', REVERSE_DNS: 'off', DATA_DIR: dataDir };
  let child: ChildApp;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = await spawnApp({ DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info', REVERSE_DNS: 'off' });
    await waitForChildReady(url, child);
  }, 90_000);

  afterAll(async () => {
    if (child.process.exitCode === null) {
      child.process.kill('SIGTERM');
      await child.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs JSON when not on a terminal, with one boot line naming the dashboard, the API docs and the setup code', async () => {
    const boot = await bootLine(child);
    expect(boot.msg).toContain(`dashboard ${url}/ `);
    expect(boot.msg).toContain(`API docs ${url}/docs`);
    expect(boot.msg).toMatch(/No account yet: open the dashboard and enter the setup code \S+/);
    const lines = child
      .output()
      .split('\n')
      .filter((line) => line.trim() !== '');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();

    const setupCode = /setup code (\S+)/.exec(boot.msg)![1];
    const created = await fetch(`${url}/api/v1/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ setupCode, ...ADMIN }),
    });
    expect(created.status).toBe(201);
    expect(await login(url, ADMIN)).toBe(200);
  });

  it('runs users:create beside the running server, through its store, and the new user can log in', async () => {
    // The server's lock file tells the CLI where its store listens.
    const [owner, port] = readFileSync(join(dataDir, 'db', 'LOCK'), 'utf8')
      .split('\n')
      .map(Number);
    expect(owner).toBe(child.process.pid);
    expect(port).toBeGreaterThan(0);

    const result = await runCliWithEnv(
      ['users:create', '--email', VIEWER.email, '--role', 'viewer'],
      cliEnv,
      `${VIEWER.password}\n`,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Created viewer cli-beside@example.com/);
    expect(await login(url, VIEWER)).toBe(200);
  }, 60_000);

  it('reports a failing command as one line saying what is wrong, without a stack trace', async () => {
    const result = await runCliWithEnv(
      ['users:create', '--email', VIEWER.email, '--role', 'viewer'],
      cliEnv,
      `${VIEWER.password}\n`,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: An account with this email exists\n');
  }, 60_000);

  it('opens the store itself once the server has stopped', async () => {
    child.process.kill('SIGTERM');
    await child.exited;
    const result = await runCliWithEnv(
      ['users:create', '--email', 'after-stop@example.com', '--role', 'viewer'],
      cliEnv,
      'another long password\n',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Created viewer after-stop@example.com/);
  }, 60_000);

  it('names the process holding a store that does not say where it listens, in one line', async () => {
    const heldDir = mkdtempSync(join(tmpdir(), 'siteline-held-'));
    try {
      // A live process (this test's) holds the lock, without a port: an older or starting owner.
      mkdirSync(join(heldDir, 'db'));
      writeFileSync(join(heldDir, 'db', 'LOCK'), `${process.pid}\n`);
      const result = await runCliWithEnv(
        ['users:create', '--email', 'held@example.com', '--role', 'viewer'],
        { ...cliEnv, DATA_DIR: heldDir },
        'a long enough password\n',
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^error: the embedded store in \\S+ is held by process ${process.pid}, .* run the command again .*\n$`,
        ),
      );
      expect(result.stderr.split('\n')).toHaveLength(2);
    } finally {
      rmSync(heldDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says at once, in one line, that nothing answers at MONGODB_URI, instead of retrying for a minute', async () => {
    // A port nothing listens on: the driver's server selection gives up after 5 s, and the CLI
    // must not go through the server's connection retries (9 more, 3 s apart) before it says so.
    const nobody = `mongodb://127.0.0.1:${await freePort()}/siteline`;
    const started = performance.now();
    const result = await runCliWithEnv(
      ['users:create', '--email', 'nowhere@example.com', '--role', 'viewer'],
      { ...cliEnv, MONGODB_URI: nobody },
      'a long enough password\n',
    );
    const seconds = (performance.now() - started) / 1000;
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.stderr).toMatch(/^error: no database answers \(.*127\.0\.0\.1.*\): start it, or fix MONGODB_URI/);
    expect(seconds).toBeLessThan(20);
  }, 90_000);
});
