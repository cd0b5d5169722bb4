import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKey, createSite } from '../factories/sites.js';
import { login } from '../factories/users.js';
import { spawnApp, type ChildApp } from './compiled-app.js';

export const CHILD_ADMIN = { email: 'admin@reliability.test', password: 'reliability-admin-password' };

/** A loopback port that was free a moment ago: the OS picks it, so it never collides with a live one. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until a spawned app answers readiness; fails with its output if it exits or never gets ready. */
export async function waitForChildReady(url: string, child: ChildApp, timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (child.process.exitCode !== null) throw new Error(`app exited early:\n${child.output()}`);
    if (
      await fetch(`${url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  throw new Error(`app not ready:\n${child.output()}`);
}

/** A site and an ingest key on a running app booted with CHILD_ADMIN. */
export async function childIngestKey(url: string): Promise<string> {
  const { accessToken } = await login(url, CHILD_ADMIN.email, CHILD_ADMIN.password);
  const site = await createSite(url, accessToken);
  return (await createKey(url, accessToken, site.id)).key;
}

/**
 * The compiled app in a child process as the reliability tests load it: a free port, CHILD_ADMIN,
 * no reverse DNS and no per-key rate limit (capacity, not policy, is under test). Resolves once
 * it is ready, with its URL and a fresh site's ingest key.
 */
export async function spawnLoadTarget(options: {
  dataDir: string;
  mongoUri: string;
  logLevel: string;
}): Promise<{ child: ChildApp; url: string; key: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await spawnApp({
    PORT: String(port),
    DATA_DIR: options.dataDir,
    MONGODB_URI: options.mongoUri,
    LOG_LEVEL: options.logLevel,
    REVERSE_DNS: 'off',
    INGEST_KEY_RATE_LIMIT: '0',
    ADMIN_EMAIL: CHILD_ADMIN.email,
    ADMIN_PASSWORD: CHILD_ADMIN.password,
  });
  try {
    await waitForChildReady(url, child);
  } catch (error) {
    child.process.kill('SIGKILL');
    throw error;
  }
  return { child, url, key: await childIngestKey(url) };
}
