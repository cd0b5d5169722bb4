import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { MAX_INGEST_REQUESTS_IN_FLIGHT } from '../../src/ingestion/ingest-admission.js';
import { createIngestSite, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The write queue bounds the hits waiting for MongoDB; this bounds the ingest bodies being read
 * and parsed before they get there. Clients that have sent their headers but not yet their body
 * hold a place; once all places are taken, the next ingest request is refused before its body is read.
 */
describe('reliability: ingest admission before the body is read', () => {
  let app: TestApp;
  let site: IngestSite;
  const held: Socket[] = [];

  beforeAll(async () => {
    app = await startTestApp({ env: { INGEST_KEY_RATE_LIMIT: '0' } });
    site = await createIngestSite(app);
  });

  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await app.close();
  });

  /** An ingest request whose headers are sent and whose body never comes. */
  function holdRequest(): Promise<Socket> {
    const { port } = new URL(app.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `POST /api/v1/hits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
            `Authorization: ${site.key}\r\nContent-Length: 100000\r\n\r\n{"hits":[`,
        );
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  const send = () =>
    fetch(`${app.url}/api/v1/hits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: site.key },
      body: JSON.stringify({ hits: [keyHit()] }),
    });

  it('refuses with 503 + Retry-After while every place is held, and admits again once one is free', async () => {
    for (let i = 0; i < MAX_INGEST_REQUESTS_IN_FLIGHT; i++) held.push(await holdRequest());
    // Each held request has been counted once the server has read its headers.
    let refused: Response | undefined;
    for (let attempt = 0; attempt < 50 && refused === undefined; attempt++) {
      const response = await send();
      if (response.status === 503) refused = response;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get('retry-after')).toBe('1');
    expect(await refused?.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    // Other routes are not affected.
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);

    const released = held.pop()!;
    released.destroy();
    let admitted = 0;
    for (let attempt = 0; attempt < 50 && admitted !== 202; attempt++) {
      admitted = (await send()).status;
      if (admitted !== 202) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(admitted).toBe(202);
  });
});
