import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { setTimeout as sleep } from 'node:timers/promises';
import { createIngestSite, type IngestSite } from '../factories/hit-fixtures.js';
import { HUNG, reconcile, runIngestLoad, sendBatch, type LoadResult } from '../support/ingest-load.js';
import { TcpProxy, type ProxyMode } from '../support/tcp-proxy.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

/** An ingest request must be answered (202 or 503) within this, whatever the database does. */
const ANSWER_BOUND_MS = 15_000;
const SOAK = process.env.SOAK === '1';

let lastSeen = '';

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await sleep(100);
  }
  throw new Error(`condition not met within ${timeoutMs} ms; last seen: ${lastSeen}`);
}

async function readiness(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) });
    lastSeen = `${response.status} ${await response.text()}`;
    return response.status;
  } catch (error) {
    lastSeen = String(error);
    return 0;
  }
}

/**
 * A partition (connections stay open but nothing passes: the harder case for "never hangs") and a
 * reset (every connection closed, new ones closed on arrival: the case where the driver's monitor
 * used to wedge for good, see `src/database/heartbeat-watchdog.ts`). `FAULT_MODES=reset` runs one.
 */
const MODES: ProxyMode[] = process.env.FAULT_MODES
  ? (process.env.FAULT_MODES.split(',') as ProxyMode[])
  : ['blackhole', 'reset'];

describe.each<[ProxyMode]>(MODES.map((mode) => [mode]))('reliability: database connection %s mid-load', (mode) => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let app: TestApp;
  let site: IngestSite;
  const driverEvents: string[] = [];

  beforeAll(async () => {
    database = await startTestDatabase();
    const target = new URL(database.uri);
    proxy = await TcpProxy.start(target.hostname, Number(target.port));
    app = await startTestApp({
      database,
      env: { MONGODB_URI: proxy.rewrite(database.uri), INGEST_KEY_RATE_LIMIT: '0', INGEST_IP_RATE_LIMIT: '0' },
    });
    site = await createIngestSite(app);
    // The driver's view of the store, for the failure message when recovery does not come.
    const client = app.app.get<Connection>(getConnectionToken()).getClient();
    const started = performance.now();
    const record = (name: string, detail = '') => {
      driverEvents.push(`${Math.round(performance.now() - started)} ms ${name} ${detail}`);
      if (driverEvents.length > 30) driverEvents.shift();
    };
    client.on('serverHeartbeatStarted', () => record('heartbeat started'));
    client.on('serverHeartbeatSucceeded', () => record('heartbeat succeeded'));
    client.on('serverHeartbeatFailed', (event) => record('heartbeat failed', event.failure.message));
    client.on('serverDescriptionChanged', (event) => record('server is', event.newDescription.type));
  });

  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await database?.close();
  });

  it('answers 503 + Retry-After while the store is unreachable, goes unready, recovers by itself and loses no acknowledged hit', async () => {
    let stopLoad = false;
    const loading: Promise<LoadResult> = runIngestLoad({
      url: app.url,
      key: site.key,
      clients: 8,
      batchSize: 5,
      batchesPerClient: SOAK ? 2000 : 400,
      stop: () => stopLoad,
      retries: 0,
      pauseMs: 20,
      requestTimeoutMs: ANSWER_BOUND_MS + 5_000,
      prefix: `fault-${mode}`,
    });
    await sleep(1000);
    proxy.setMode(mode);
    const unreadyAfterMs = await waitFor(async () => (await readiness(app.url)) === 503, 15_000);
    const during = await sendBatch(app.url, site.key, [`during-${mode}`], ANSWER_BOUND_MS + 5_000);
    await sleep(1500);
    proxy.setMode('forward');
    const readyAgainAfterMs = await waitFor(async () => (await readiness(app.url)) === 200, 30_000).catch(
      async (error: Error) => {
        const direct = await database.db.command({ ping: 1 }).then(
          () => 'store answers directly',
          (e: Error) => `store does not answer directly: ${e.message}`,
        );
        throw new Error(
          `${error.message}; ${direct}; proxy connections=${proxy.connectionsAccepted}; last driver events:\n${driverEvents.join('\n')}`,
        );
      },
    );
    // The app writes again without a restart.
    await waitFor(
      async () => (await sendBatch(app.url, site.key, [`after-${mode}-${Date.now()}`])).status === 202,
      15_000,
    );
    await sleep(500);
    stopLoad = true;
    const load = await loading;

    expect(during.status).toBe(503);
    expect(during.retryAfter).toMatch(/^\d+$/);
    expect(during.elapsedMs).toBeLessThan(ANSWER_BOUND_MS);
    const statuses = new Set(load.outcomes.map((outcome) => outcome.status));
    expect([...statuses].filter((status) => status !== 202 && status !== 503)).toEqual([]);
    expect(load.outcomes.filter((outcome) => outcome.status === HUNG || outcome.elapsedMs > ANSWER_BOUND_MS)).toEqual(
      [],
    );
    for (const outcome of load.outcomes.filter((o) => o.status === 503)) expect(outcome.retryAfter).toMatch(/^\d+$/);
    expect(load.outcomes.some((outcome) => outcome.status === 503)).toBe(true);
    expect(
      load.outcomes.filter((outcome, index) => outcome.status === 202 && index > load.outcomes.length - 8).length,
    ).toBeGreaterThan(0);

    const stored = await database.db
      .collection<{ eventId?: string }>('hits')
      .find({}, { projection: { eventId: 1 } })
      .toArray();
    expect(reconcile(stored, load.acknowledged)).toEqual({ duplicated: [], lost: [] });
    // Figures printed for the run log (docs/security.md lists the property).
    process.stdout.write(
      `[database-faults ${mode}] requests=${load.outcomes.length} acknowledged=${load.acknowledged.size} ` +
        `503=${load.outcomes.filter((o) => o.status === 503).length} unreadyAfterMs=${Math.round(unreadyAfterMs)} ` +
        `readyAgainAfterMs=${Math.round(readyAgainAfterMs)} reconnections=${proxy.connectionsAccepted}\n`,
    );
  }, 120_000);
});
