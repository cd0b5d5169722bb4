#!/usr/bin/env node
/**
 * Runs bench/store.bench.ts: compiles the library and the bench with @swc/core into a temp
 * directory (Node cannot run .ts and tsx is not a dependency), then executes it there.
 *
 *   node libs/embedded-mongo/bench/run.mjs            # full run (about two minutes)
 *   node libs/embedded-mongo/bench/run.mjs --quick    # smaller sizes, for a smoke test
 *
 * Results go to <repo>/bench/results/embedded-mongo.json and .md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import swc from '@swc/core';

const libRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(libRoot, '../..');
const outDir = mkdtempSync(join(tmpdir(), 'embedded-mongo-bench-'));

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? tsFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

symlinkSync(join(repoRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
for (const file of [...tsFiles(join(libRoot, 'src')), join(libRoot, 'bench', 'store.bench.ts')]) {
  const { code } = swc.transformFileSync(file, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
  });
  const target = join(outDir, relative(libRoot, file)).replace(/\.ts$/, '.js');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, code);
}

const result = spawnSync(
  process.execPath,
  ['--max-old-space-size=6144', join(outDir, 'bench', 'store.bench.js'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    env: { ...process.env, BENCH_RESULTS_DIR: join(repoRoot, 'bench', 'results') },
  },
);
rmSync(outDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
