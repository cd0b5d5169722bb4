// `npm run bench`: transpiles src/, libs/ and bench/ with swc (`.swcrc`, as the tests do) into
// test-output/bench-build/, then runs the compiled bench. Compiled JavaScript is what production
// runs, and it lets the embedded store start in its worker thread as it does in production.
import { transform } from '@swc/core';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = process.cwd();
// BENCH_BUILD_DIR lets two benches run side by side; it must be inside the repository, where
// the compiled code still finds node_modules.
const OUT = process.env.BENCH_BUILD_DIR ?? join(ROOT, 'test-output', 'bench-build');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ['test', 'results'].includes(entry.name) ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')
      ? [path]
      : [];
  });
}

// BENCH_FROM_HEAD=1 measures the last commit instead of the working tree (others' unfinished edits).
const fromHead = process.env.BENCH_FROM_HEAD === '1';
function headFiles() {
  return execFileSync('git', ['ls-files', 'src', 'libs', 'bench'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(
      (path) =>
        path.endsWith('.ts') && !path.endsWith('.spec.ts') && !path.endsWith('.d.ts') && !/(^|\/)test\//.test(path),
    )
    .map((path) => join(ROOT, path));
}
const read = (file) =>
  fromHead
    ? execFileSync('git', ['show', `HEAD:${relative(ROOT, file)}`], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 })
    : readFileSync(file, 'utf8');

rmSync(OUT, { recursive: true, force: true });
const files = fromHead ? headFiles() : ['src', 'libs', 'bench'].flatMap((dir) => sourceFiles(join(ROOT, dir)));
await Promise.all(
  files.map(async (file) => {
    // Settings come from `.swcrc` (found from `filename`), shared with Jest and the child-process tests.
    const { code } = await transform(read(file), { filename: file });
    const target = join(OUT, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }),
);
const entry = process.argv[2] ?? 'run';
// The bench reopens each app's embedded store in its own process to count what was stored (a
// worker thread inherits this heap limit): after a 10^6-hit run that data set outgrows V8's
// ~4 GB default, as it does in the app (see EMBEDDED_STORE_HEAP_MB in stats-scale.ts).
const heap = '--max-old-space-size=12288';
const child = spawn(
  process.execPath,
  ['--expose-gc', heap, join(OUT, 'bench', `${entry}.js`), ...process.argv.slice(3)],
  {
    stdio: 'inherit',
    env: { ...process.env, SITELINE_BENCH_BUILD: OUT, SITELINE_ROOT: ROOT },
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
