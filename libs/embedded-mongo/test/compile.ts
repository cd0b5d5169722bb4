import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';

/**
 * Compiles the library's sources to plain ESM JavaScript in a temp directory so a test can
 * run the store in a child process (and kill -9 it) or in a worker thread: neither can load
 * .ts files, and tsx/@swc-node are not dependencies. Imports already end in `.js`, so the
 * output runs as is; a `node_modules` symlink lets it resolve bson and mingo.
 */
const here = dirname(fileURLToPath(import.meta.url));
const sourceRoot = resolve(here, '../src');
const repoRoot = resolve(here, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

export async function compileLibrary(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'embedded-mongo-build-'));
  symlinkSync(join(repoRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const file of sources(sourceRoot)) {
    const { code } = await transformFile(file, {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: false,
    });
    const target = join(outDir, relative(sourceRoot, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
  return outDir;
}

export interface StoreProcess {
  process: ChildProcessWithoutNullStreams;
  uri: string;
}

/** The compiled store's CLI in a child process on a free port; resolves with its URI once READY. */
export function spawnStore(buildDir: string, args: string[]): Promise<StoreProcess> {
  const child = spawn(process.execPath, [join(buildDir, 'cli.js'), '--port', '0', ...args]);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /READY (\S+)/.exec(output);
      if (ready) resolve({ process: child, uri: ready[1] });
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`store exited with ${code}: ${output}`)));
  });
}
