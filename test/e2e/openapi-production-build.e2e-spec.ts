import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/child-app.js';

const COMMITTED = 'openapi/openapi.json';
const BUILD_TIMEOUT_MS = 8 * 60_000;

/**
 * `npm start` and the Docker image run what `nest build` (tsc, nest-cli.json, tsconfig.build.json)
 * emits, while the other tests run swc-compiled sources inside Jest. Decorators that document a
 * route only when they can load a package (as @nestjs/terminus' `@HealthCheck()` does) can make the
 * two disagree, so this builds once the way production does, into a scratch folder inside the
 * repository (Node finds `node_modules` and `"type": "module"` from there), starts
 * `dist/src/main.js` in production mode and compares its `/openapi.json` with the committed file.
 */
describe('OpenAPI document of the production build', () => {
  const buildDir = join('test-output', `nest-build-${process.pid}-${randomBytes(4).toString('hex')}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-prod-build-'));
  let app: ChildProcess | undefined;
  let output = '';
  let served: unknown;

  beforeAll(async () => {
    mkdirSync(buildDir, { recursive: true });
    // The production tsconfig with only the output folder moved, so `dist/` is left alone.
    writeFileSync(
      join(buildDir, 'tsconfig.json'),
      JSON.stringify({ extends: '../../tsconfig.build.json', compilerOptions: { outDir: './dist' } }),
    );
    await promisify(execFile)(
      process.execPath,
      ['node_modules/@nestjs/cli/bin/nest.js', 'build', '--path', join(buildDir, 'tsconfig.json')],
      { timeout: BUILD_TIMEOUT_MS },
    );

    const port = await freePort();
    app = spawn(process.execPath, [join(buildDir, 'dist', 'src', 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
        JWT_SECRET: randomBytes(32).toString('hex'),
        VISITOR_SECRET: randomBytes(32).toString('hex'),
        REVERSE_DNS: 'off',
        LOG_LEVEL: 'warn',
        ...(process.env.MONGODB_URI ? { MONGODB_URI: process.env.MONGODB_URI } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    app.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    app.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = performance.now() + 60_000;
    while (served === undefined) {
      if (app.exitCode !== null) throw new Error(`the built app exited:\n${output}`);
      if (performance.now() > deadline) throw new Error(`the built app did not serve /openapi.json:\n${output}`);
      const response = await fetch(`http://127.0.0.1:${port}/openapi.json`).catch(() => undefined);
      if (response?.ok) served = await response.json();
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, BUILD_TIMEOUT_MS + 90_000);

  afterAll(async () => {
    if (app && app.exitCode === null) {
      const exited = new Promise((resolve) => app?.once('close', resolve));
      app.kill('SIGTERM');
      await exited;
    }
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('serves exactly the committed openapi/openapi.json', () => {
    expect(served).toEqual(JSON.parse(readFileSync(COMMITTED, 'utf8')));
  });
});
