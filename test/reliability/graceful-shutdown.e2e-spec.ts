import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnLoadTarget } from '../support/child-app.js';
import type { ChildApp } from '../support/compiled-app.js';
import { reconcile, runIngestLoad } from '../support/ingest-load.js';
import { startTestDatabase, type TestDatabase } from '../support/test-app.js';

/**
 * Docker and Kubernetes send SIGKILL 10 s after SIGTERM: the app must be gone by then, under load
 * and with background work in progress, every acknowledged hit stored. (The app's own budget,
 * SHUTDOWN_TIMEOUT_MS, is 8 s; the rest is the process's own way out.)
 */
const EXIT_BOUND_MS = 10_000;

/** Waits for the child to exit, at most EXIT_BOUND_MS after `signalled`; 'still running' otherwise. */
async function exitWithinBound(child: ChildApp): Promise<{ exit: number | string | null; exitMs: number }> {
  const signalled = performance.now();
  child.process.kill('SIGTERM');
  const exit = await Promise.race([child.exited, sleep(EXIT_BOUND_MS, 'still running', { ref: false })]);
  return { exit, exitMs: Math.round(performance.now() - signalled) };
}

/** A clean stop re-raises SIGTERM (exit status 143); anything else comes with the app's last words. */
function cleanStop(child: ChildApp, exit: number | string | null): { exit: number | string | null; output: string } {
  return { exit, output: exit === 'SIGTERM' ? '' : child.output().slice(-3000) };
}

/** One visitor per hit (its own address), spread over the last two days: the sessionizer's worst case. */
async function sendDistinctVisitors(
  url: string,
  key: string,
  total: number,
  batchSize = 500,
  senders = 4,
): Promise<number> {
  let next = 0;
  let acknowledged = 0;
  const now = Date.now();
  const sender = async () => {
    while (next < total) {
      const first = next;
      next += batchSize;
      const hits = Array.from({ length: Math.min(batchSize, total - first) }, (_, offset) => {
        const index = first + offset;
        return {
          url: `/backlog/${index % 40}`,
          eventId: `backlog-${index}`,
          ip: `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`,
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0',
          timestamp: new Date(now - (index % 40) * 3_600_000).toISOString(),
        };
      });
      const status = await fetch(`${url}/api/v1/hits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: key },
        body: JSON.stringify({ hits }),
      }).then(
        (response) => response.status,
        () => 0,
      );
      // Refused (503) or not answered on a starved machine: those hits are simply not in the backlog.
      if (status === 202) acknowledged += hits.length;
      else await sleep(200);
    }
  };
  await Promise.all(Array.from({ length: senders }, sender));
  return acknowledged;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

describe('reliability: SIGTERM during load', () => {
  let database: TestDatabase;
  const children: ChildApp[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-sigterm-'));

  beforeAll(async () => {
    database = await startTestDatabase();
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits within 10 s under ingest load: every hit answered 202 is stored, nothing twice', async () => {
    const target = await spawnLoadTarget({ dataDir, mongoUri: database.uri, logLevel: 'warn' });
    children.push(target.child);
    const { url, key, child } = target;

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
    // SIGTERM once writes are flowing (on a starved machine the first ones take a while).
    await waitFor(async () => (await database.db.collection('hits').countDocuments()) >= 100, 30_000);
    // The load keeps coming while the app stops: a drain that waits for "nothing queued" never ends.
    const { exit, exitMs } = await exitWithinBound(child);
    stop = true;
    const load = await loading;

    expect(cleanStop(child, exit)).toEqual({ exit: 'SIGTERM', output: '' });
    const acknowledged = load.outcomes.filter((outcome) => outcome.status === 202);
    expect(acknowledged.length).toBeGreaterThan(10);
    // Requests refused or cut by the closing server get 503 or no answer (status 0); never a 500, never a hang.
    expect(load.outcomes.filter((outcome) => ![202, 503, 0].includes(outcome.status)).map((o) => o.status)).toEqual([]);
    const stored = await database.db
      .collection<{ eventId?: string }>('hits')
      .find({}, { projection: { eventId: 1 } })
      .toArray();
    expect(reconcile(stored, load.acknowledged)).toEqual({ duplicated: [], lost: [] });
    process.stdout.write(
      `[graceful-shutdown] load: requests=${load.outcomes.length} acknowledgedHits=${load.acknowledged.size} stored=${stored.length} exit=${String(exit)} exitMs=${exitMs}\n`,
    );
  }, 120_000);

  it('exits within 10 s with the sessionizer, then the rollup job, mid-run on a backlog, leaving it for the next start', async () => {
    const hits = database.db.collection('hits');
    const backlog = database.db.collection('visitor_dirty');
    const before = await hits.countDocuments();

    // 1. The sessionizer mid-run: 8,000 new visitors sent, SIGTERM while their visits are computed.
    const first = await spawnLoadTarget({ dataDir, mongoUri: database.uri, logLevel: 'info' });
    children.push(first.child);
    const acknowledged = await sendDistinctVisitors(first.url, first.key, 8_000);
    // SIGTERM while the sessionizer is seen working through the backlog.
    let seen = await backlog.countDocuments();
    await waitFor(async () => {
      const now = await backlog.countDocuments();
      const progressed = now < seen;
      seen = now;
      return progressed;
    }, 60_000);
    const backlogAtSignal = await backlog.countDocuments();
    const sessionizer = await exitWithinBound(first.child);
    expect(cleanStop(first.child, sessionizer.exit)).toEqual({ exit: 'SIGTERM', output: '' });
    expect(first.child.output()).toMatch(/Sessionizer: (done in \d+ ms|left unfinished|nothing in progress)/);
    expect(await hits.countDocuments()).toBeGreaterThanOrEqual(before + acknowledged);
    const backlogLeft = await backlog.countDocuments();
    expect({ backlogAtSignal: backlogAtSignal > 500, backlogLeft: backlogLeft > 0 }).toEqual({
      backlogAtSignal: true,
      backlogLeft: true,
    });

    // 2. The rollup job mid-run: its hits settled (received minutes ago), its first run starts 30 s
    // after boot by sessionizing what the first app left, then recomputes ~40 site-days.
    await hits.updateMany({}, { $set: { receivedAt: new Date(Date.now() - 5 * 60_000) } });
    const leases = database.db.collection<{ _id: string; expiresAt: Date }>('leases');
    // A rollup run the first app started and had to leave mid-step keeps its lease until it
    // expires (5 min): the second app would wait for it. Expired here, as time would.
    await leases.updateOne({ _id: 'stats-rollup' }, { $set: { expiresAt: new Date(0) } });
    const second = await spawnLoadTarget({ dataDir, mongoUri: database.uri, logLevel: 'info' });
    children.push(second.child);
    const runStarted = performance.now();
    while ((await leases.countDocuments({ _id: 'stats-rollup', expiresAt: { $gt: new Date() } })) === 0) {
      if (performance.now() - runStarted > 60_000) throw new Error(`no rollup run:\n${second.child.output()}`);
      await sleep(100);
    }
    await sleep(500);
    const rollup = await exitWithinBound(second.child);
    expect(cleanStop(second.child, rollup.exit)).toEqual({ exit: 'SIGTERM', output: '' });
    // The run was cut, not finished: it logs no "Rolled up" line, and the next start redoes it.
    expect(second.child.output()).not.toMatch(/Rolled up \d+ site-days/);
    expect(second.child.output()).toMatch(/Rollup job: (done in \d+ ms|left unfinished|nothing in progress)/);
    process.stdout.write(
      `[graceful-shutdown] backlog: acknowledgedHits=${acknowledged} backlogAtSignal=${backlogAtSignal} backlogLeft=${backlogLeft} sessionizerExitMs=${sessionizer.exitMs} rollupExitMs=${rollup.exitMs}\n`,
    );
  }, 240_000);
});
