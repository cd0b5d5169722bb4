import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One store per dataDir: two processes appending to one journal would corrupt it. The lock
 * file holds the owner's pid and, once it listens, its loopback port on a second line: another
 * process that needs the data (Siteline's CLI beside a running server) connects to that port
 * with a driver instead of opening the files. A lock whose process is gone (kill -9, crash) is
 * taken over.
 */
const LOCK_FILE = 'LOCK';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(dir: string): { pid: number; port: number } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, LOCK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const [pid, port] = text.split('\n').map((line) => Number(line.trim()));
  return { pid, port };
}

/** Written aside and renamed, so a reader never sees a half-written lock. */
function writeLock(dir: string, content: string): void {
  const path = join(dir, LOCK_FILE);
  const scratch = `${path}.${process.pid}.tmp`;
  writeFileSync(scratch, content);
  renameSync(scratch, path);
}

export function acquireLock(dir: string): () => void {
  const owner = readLock(dir)?.pid ?? NaN;
  if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
    throw new Error(`embedded-mongo: dataDir ${dir} is in use by process ${owner}`);
  }
  writeLock(dir, `${process.pid}\n`);
  return () => {
    try {
      unlinkSync(join(dir, LOCK_FILE));
    } catch {
      // Already gone; nothing to release.
    }
  };
}

/** Records, for other processes, the loopback port the owner of `dir` (this process) listens on. */
export function advertisePort(dir: string, port: number): void {
  writeLock(dir, `${process.pid}\n${port}\n`);
}

/**
 * The loopback port of the store another live process runs on `dir`, or undefined when the
 * directory is free (no lock, or its owner is gone) or owned by this process.
 */
export function runningStorePort(dir: string): number | undefined {
  const lock = readLock(dir);
  if (!lock || !Number.isInteger(lock.pid) || lock.pid === process.pid || !alive(lock.pid)) return undefined;
  return Number.isInteger(lock.port) && lock.port > 0 ? lock.port : undefined;
}
