import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { externalUri } from './stored-hits.js';

/** Where launch.mjs put the compiled sources. */
export const BUILD_DIR = process.env.SITELINE_BENCH_BUILD ?? join(process.cwd(), 'test-output', 'bench-build');

/** What Kubernetes waits by default (terminationGracePeriodSeconds) before SIGKILL. */
const STOP_TIMEOUT_MS = 30_000;

export const ADMIN = { email: 'bench@siteline.test', password: 'bench-password-1234' };

export interface Child {
  process: ChildProcess;
  pid: number;
  url: string;
  output: () => string;
  /** SIGTERM, then SIGKILL if the graceful shutdown takes longer than an orchestrator would wait. */
  stop(): Promise<void>;
  killedAfterTimeout?: boolean;
}

/**
 * Polls the child's output once a second until `found` returns something for it, or `limitMs` has
 * passed (null): how the benches wait for a background job's log line.
 */
export async function waitForOutput<T>(
  child: Child,
  found: (output: string) => T | undefined,
  limitMs: number,
): Promise<T | null> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    const result = found(child.output());
    if (result !== undefined) return result;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, output: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`child exited with ${child.exitCode}:\n${output().slice(-3000)}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${url}:\n${output().slice(-3000)}`);
}

function startChild(args: string[], env: Record<string, string>, readyUrl: string, baseUrl: string): Promise<Child> {
  const child = spawn(process.execPath, args, {
    cwd: process.env.SITELINE_ROOT ?? process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep only the tail: production logs a line per request.
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  logWholeOutput(child, args.at(-1)?.split('/').at(-1) ?? 'child');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: Child = {
    process: child,
    pid: child.pid ?? 0,
    url: baseUrl,
    output: () => text,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        handle.killedAfterTimeout = true;
        child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
  return waitForHttp(readyUrl, child, handle.output).then(() => handle);
}

export interface AppOptions {
  /** Database name on an external MongoDB (MONGODB_URI), so each app of a run starts empty. */
  database?: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  dataDir?: string;
}

/**
 * Siteline as production runs it: compiled `src/main.js`, NODE_ENV=production, the embedded
 * store in its worker thread unless MONGODB_URI is set. Reverse DNS is off (no resolver in the
 * bench sandbox) and the per-key rate limit is disabled so the bench measures capacity, not policy.
 */
export async function startApp(options: AppOptions = {}): Promise<Child & { dataDir: string; database: string }> {
  const port = await freePort();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'siteline-bench-'));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdef0123456789',
    VISITOR_SECRET: 'bench-visitor-secret-0123456789abcdef012345',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    REVERSE_DNS: 'off',
    INGEST_KEY_RATE_LIMIT: '0',
    ...(process.env.MONGODB_URI ? { MONGODB_URI: externalUri(options.database ?? 'siteline_bench')! } : {}),
    ...(process.env.LOG_LEVEL ? { LOG_LEVEL: process.env.LOG_LEVEL } : {}),
    ...options.env,
  };
  const base = `http://127.0.0.1:${port}`;
  // BENCH_APP_NODE_ARGS: node flags for every app of a run, to diagnose one (`--trace-gc`, `--cpu-prof`).
  const diagnosticArgs = process.env.BENCH_APP_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = await startChild(
    [...(options.nodeArgs ?? []), ...diagnosticArgs, join(BUILD_DIR, 'src', 'main.js')],
    env,
    `${base}/health/ready`,
    base,
  );
  return Object.assign(child, { dataDir, database: options.database ?? 'siteline_bench' });
}

/**
 * Deletes a stopped app's data directory once what the bench reads from it has been read: a
 * 10^6-hit run leaves a few GB of journal and snapshot behind otherwise.
 */
export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}

/** The ceiling: a bare node:http server that parses the JSON body and answers 202. */
export async function startRawServer(): Promise<Child> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  return startChild([join(BUILD_DIR, 'bench', 'lib', 'raw-server.js'), String(port)], {}, `${base}/`, base);
}

/** The embedded store in a process of its own, as MongoDB runs beside the app in production. */
export interface StoreProcess {
  uri: string;
  pid: number;
  /** Peak resident memory of the store process so far (`VmHWM`), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

/**
 * BENCH_APP_LOG_DIR: the child's whole output into `<name>-<pid>.log` there — a long run's (BENCH_FULL=1
 * seeds for many minutes) for reading afterwards what the job did, the store's for its warnings.
 */
function logWholeOutput(child: ChildProcess, name: string): void {
  const logDir = process.env.BENCH_APP_LOG_DIR;
  if (!logDir) return;
  mkdirSync(logDir, { recursive: true });
  const file = createWriteStream(join(logDir, `${name}-${child.pid}.log`));
  child.stdout?.pipe(file, { end: false });
  child.stderr?.pipe(file, { end: false });
  // Both pipes leave the file open (either may end first); it closes once the child's output has.
  child.once('close', () => file.end());
}

/** Starts `libs/embedded-mongo` standalone on `dataDir/db` and resolves once it listens. */
export async function startStore(dataDir: string, database: string, nodeArgs: string[] = []): Promise<StoreProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      // BENCH_STORE_CLI: another build of the store (e.g. an earlier commit's) under the same app.
      process.env.BENCH_STORE_CLI ?? join(BUILD_DIR, 'libs', 'embedded-mongo', 'src', 'cli.js'),
      '--port',
      String(port),
      '--data-dir',
      join(dataDir, 'db'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  logWholeOutput(child, 'store');
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`store not ready:\n${output}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('READY ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`store exited (${code}):\n${output}`)));
  });
  return {
    uri: `mongodb://127.0.0.1:${port}/${database}`,
    pid: child.pid ?? 0,
    peakRssMb() {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return match ? Math.round(Number(match[1]) / 1024) : 0;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
