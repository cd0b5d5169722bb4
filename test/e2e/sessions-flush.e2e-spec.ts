import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createIngestSite, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** How long the competing ingest may run at most; a flush that waits for it would take this long. */
const INGEST_LIMIT_MS = 20_000;

/**
 * Every stats read first waits for the visits of the hits acknowledged so far. It must wait for
 * those only: under steady ingest new visitors are marked all the time, and a read that waited
 * for them too would never answer.
 */
describe('flushing visits under steady ingest', () => {
  let app: TestApp;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp();
    site = await createIngestSite(app);
  });

  afterAll(async () => {
    await app.close();
  });

  async function send(hits: Array<Record<string, unknown>>): Promise<void> {
    const response = await fetch(`${app.url}/api/v1/hits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: site.key },
      body: JSON.stringify({ hits }),
    });
    expect(response.status).toBe(202);
  }

  it('resolves for the hits acknowledged before it, while other visitors keep arriving', async () => {
    await send([keyHit({ ip: '198.51.100.1', url: '/first' }), keyHit({ ip: '198.51.100.1', url: '/second' })]);

    let stop = false;
    let streamEnded = false;
    let sent = 0;
    const ingest = (async () => {
      const until = Date.now() + INGEST_LIMIT_MS;
      // Batches of new visitors, so the work list never runs empty while this goes on.
      while (!stop && Date.now() < until) {
        const batch = Array.from({ length: 100 }, () => {
          sent++;
          return keyHit({
            ip: `10.${Math.floor(sent / 62500) % 250}.${Math.floor(sent / 250) % 250}.${sent % 250}`,
            url: `/stream/${sent}`,
          });
        });
        await send(batch);
      }
      streamEnded = true;
    })();

    await app.app.get(SessionsService).flush(site.siteId);
    const streamStillRunning = !streamEnded;
    stop = true;
    await ingest;

    expect(sent).toBeGreaterThan(0);
    expect(streamStillRunning).toBe(true);
    const first = await app.database.db
      .collection('hits')
      .find({ path: { $in: ['/first', '/second'] } })
      .toArray();
    expect(first).toHaveLength(2);
    expect(first[0].visitId).toEqual(expect.any(String));
    expect(first[1].visitId).toBe(first[0].visitId);
  });
});
