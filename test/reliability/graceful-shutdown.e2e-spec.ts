import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnLoadTarget } from '../support/child-app.js';
import type { ChildApp } from '../support/compiled-app.js';
import { reconcile, runIngestLoad } from '../support/ingest-load.js';
import { startTestDatabase, type TestDatabase } from '../support/test-app.js';

describe('reliability: SIGTERM during load', () => {
  let database: TestDatabase;
  let child: ChildApp;
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-sigterm-'));

  beforeAll(async () => {
    database = await startTestDatabase();
  }, 60_000);

  afterAll(async () => {
    child?.process.kill('SIGKILL');
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('drains in-flight writes: every hit answered 202 is stored, nothing twice, and the process exits', async () => {
    const target = await spawnLoadTarget({ dataDir, mongoUri: database.uri, logLevel: 'warn' });
    child = target.child;
    const { url, key } = target;

    let stop = false;
    const loading = runIngestLoad({
      url,
      key,
      clients: 16,
      batchSize: 10,
      batchesPerClient: 10_000,
      stop: () => stop,
      retries: 0,
      requestTimeoutMs: 20_000,
      prefix: 'sigterm',
    });
    await sleep(1500);
    child.process.kill('SIGTERM');
    const exit = await Promise.race([child.exited, sleep(30_000, 'still running', { ref: false })]);
    stop = true;
    const load = await loading;

    expect({ exit, output: exit === 'SIGTERM' || exit === 0 ? '' : child.output().slice(-3000) }).toEqual({
      exit: exit === 0 ? 0 : 'SIGTERM',
      output: '',
    });
    const acknowledged = load.outcomes.filter((outcome) => outcome.status === 202);
    expect(acknowledged.length).toBeGreaterThan(10);
    // Requests cut by the closing server get no answer (status 0) or 503; never a 500, never a hang.
    expect(load.outcomes.filter((outcome) => ![202, 503, 0].includes(outcome.status)).map((o) => o.status)).toEqual([]);
    const stored = await database.db
      .collection<{ eventId?: string }>('hits')
      .find({}, { projection: { eventId: 1 } })
      .toArray();
    expect(reconcile(stored, load.acknowledged)).toEqual({ duplicated: [], lost: [] });
    process.stdout.write(
      `[graceful-shutdown] requests=${load.outcomes.length} acknowledgedHits=${load.acknowledged.size} stored=${stored.length} exit=${String(exit)}\n`,
    );
  }, 120_000);
});
