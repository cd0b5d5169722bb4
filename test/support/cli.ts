import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { compileApp } from './compiled-app.js';
import type { TestApp } from './test-app.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI (`src/cli/main.js`) against a test app's database and data directory. */
export async function runCli(
  app: TestApp,
  args: string[],
  stdin = '',
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await compileApp();
  const child = spawn(process.execPath, [join(out, 'src', 'cli', 'main.js'), ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      REVERSE_DNS: 'off',
      MONGODB_URI: app.database.uri,
      DATA_DIR: app.dataDir,
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr };
}
