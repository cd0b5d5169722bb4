import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { compileApp } from './compiled-app.js';
import type { TestApp } from './test-app.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The compiled CLI's entry point and arguments, with the environment that points it at a test app. */
export async function cliCommand(
  app: TestApp,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ argv: string[]; env: Record<string, string> }> {
  return {
    argv: [join(await compileApp(), 'src', 'cli', 'main.js'), ...args],
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      REVERSE_DNS: 'off',
      MONGODB_URI: app.database.uri,
      DATA_DIR: app.dataDir,
      ...env,
    },
  };
}

/** Runs the compiled CLI (`src/cli/main.js`) against a test app's database and data directory. */
export async function runCli(
  app: TestApp,
  args: string[],
  stdin = '',
  env: Record<string, string> = {},
): Promise<CliResult> {
  const command = await cliCommand(app, args, env);
  return runCompiledCli(command.argv, command.env, stdin);
}

/**
 * Runs the compiled CLI with exactly this environment (besides PATH), e.g. without MONGODB_URI
 * so it uses the embedded store of a DATA_DIR.
 */
export async function runCliWithEnv(args: string[], env: Record<string, string>, stdin = ''): Promise<CliResult> {
  const argv = [join(await compileApp(), 'src', 'cli', 'main.js'), ...args];
  return runCompiledCli(argv, { PATH: process.env.PATH ?? '', ...env }, stdin);
}

async function runCompiledCli(argv: string[], env: Record<string, string>, stdin: string): Promise<CliResult> {
  const child = spawn(process.execPath, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr };
}
