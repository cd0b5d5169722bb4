import { transform } from '@swc/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = process.cwd();
const OUTPUT = join(ROOT, 'test-output');
/** Builds not used for this long are deleted (every use refreshes a build's mtime). */
const STALE_AFTER_MS = 2 * 60 * 60 * 1000;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'test' || entry.name === 'bench' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Marks a build as in use (fresh for other runs' pruning); false when it does not exist. */
function touch(path: string): boolean {
  try {
    const now = new Date();
    utimesSync(path, now, now);
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes builds nobody used for STALE_AFTER_MS. Renamed aside first, so a folder under a build's
 * name is never half deleted (a run killed during `rmSync` leaves only a stale-named folder, which
 * the next run deletes). Best effort: a concurrent run may be pruning the same folders.
 */
function pruneStaleBuilds(keep: string): void {
  const cutoff = Date.now() - STALE_AFTER_MS;
  for (const name of readdirSync(OUTPUT)) {
    const path = join(OUTPUT, name);
    if (!name.startsWith('build-') || path === keep) continue;
    try {
      if (statSync(path).mtimeMs >= cutoff) continue;
      const trash = `${path}.trash-${process.pid}-${randomBytes(4).toString('hex')}`;
      renameSync(path, trash);
      rmSync(trash, { recursive: true, force: true });
    } catch {
      // gone already (another run pruned it): nothing to do
    }
  }
}

async function build(): Promise<string> {
  // Compiles exactly the contents it hashed, so a file edited meanwhile cannot end up in a
  // folder named after its previous contents.
  const sources = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'libs'))]
    .sort()
    .map((file) => ({ file, code: readFileSync(file, 'utf8') }));
  const hash = createHash('sha256')
    .update(readFileSync(join(ROOT, '.swcrc')))
    .update(readFileSync(join(ROOT, 'node_modules', '@swc', 'core', 'package.json')));
  for (const { file, code } of sources) hash.update(`\0${relative(ROOT, file)}\0${code}`);
  const out = join(OUTPUT, `build-${hash.digest('hex').slice(0, 16)}`);
  if (!touch(out)) {
    // Written aside and renamed into place, so a build folder is always complete; when two
    // workers build the same sources at once, the first rename wins and the other is discarded.
    const scratch = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await Promise.all(
      sources.map(async ({ file, code }) => {
        // Settings come from `.swcrc` (found through `filename`), shared with Jest and the benchmarks.
        const { code: js } = await transform(code, { filename: file });
        const target = join(scratch, relative(ROOT, file)).replace(/\.ts$/, '.js');
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, js);
      }),
    );
    try {
      renameSync(scratch, out);
    } catch (error) {
      rmSync(scratch, { recursive: true, force: true });
      if (!touch(out)) throw error;
    }
  }
  pruneStaleBuilds(out);
  return out;
}

let compiled: Promise<string> | undefined;

/**
 * Tests that must run Siteline as a separate process (hard kills, SIGTERM, exit codes) need
 * JavaScript; this transpiles `src/` and `libs/` with the swc settings Jest uses (`.swcrc`) into
 * `test-output/build-<hash of the sources>/`, inside the repository so Node finds `node_modules`
 * and `"type": "module"`. Returns the output directory. Test files, parallel Jest workers and
 * later runs with the same sources share one build (never written again once renamed into
 * place); builds unused for two hours (older sources, scratch folders of killed runs) are deleted.
 */
export async function compileApp(): Promise<string> {
  compiled ??= build();
  const out = await compiled;
  if (touch(out)) return out;
  // Pruned by another run after lying unused for STALE_AFTER_MS within this test file: rebuild.
  compiled = build();
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
    // Tests talk to 127.0.0.1 only, so the app listens there only.
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env },
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
