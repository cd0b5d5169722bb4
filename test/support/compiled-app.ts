import { transformFile } from '@swc/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = process.cwd();

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'test' || entry.name === 'bench' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

let compiled: Promise<string> | undefined;

/**
 * Tests that must run Siteline as a separate process (hard kills, SIGTERM, exit codes) need
 * JavaScript; this transpiles `src/` and `libs/` with the swc settings Jest uses (`.swcrc`) into
 * `test-output/`, inside the repository so Node finds `node_modules` and `"type": "module"`.
 * Returns the output directory; compiled once per test file.
 */
export function compileApp(): Promise<string> {
  compiled ??= (async () => {
    const out = join(ROOT, 'test-output', `build-${process.pid}-${Date.now()}`);
    const files = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'libs'))];
    await Promise.all(
      files.map(async (file) => {
        // Settings come from `.swcrc`, shared with Jest and the benchmarks.
        const { code } = await transformFile(file);
        const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, code);
      }),
    );
    return out;
  })();
  return compiled;
}

export interface ChildApp {
  process: ChildProcess;
  output: () => string;
  /**
   * Resolves with the exit code, or the signal's name when the process ended by re-raising one,
   * once its stdout and stderr are drained too (`'close'`, not `'exit'`, which can come before the
   * last lines are read), so `output()` then holds everything the process printed.
   */
  exited: Promise<number | NodeJS.Signals | null>;
}

/** Starts compiled `src/main.js` with the given environment, capturing stdout and stderr. */
export async function spawnApp(env: Record<string, string>): Promise<ChildApp> {
  const out = await compileApp();
  const child = spawn(process.execPath, [join(out, 'src', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? signal)),
  );
  return { process: child, output: () => text, exited };
}
