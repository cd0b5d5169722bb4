import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One store per dataDir: two processes appending to one journal would corrupt it. The lock
 * file holds the owner's pid; a lock whose process is gone (kill -9, crash) is taken over.
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

export function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  let owner = NaN;
  try {
    owner = Number(readFileSync(path, 'utf8').trim());
  } catch {
    // No lock file: the directory is free.
  }
  if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
    throw new Error(`embedded-mongo: dataDir ${dir} is in use by process ${owner}`);
  }
  writeFileSync(path, `${process.pid}\n`);
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // Already gone; nothing to release.
    }
  };
}
