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
