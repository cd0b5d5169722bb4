import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createIngestSite, FIREFOX_UA } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** A distinctive public address that must never appear at rest or in a log line. */
const SENTINEL_IP = '81.2.69.142';

describe('no raw IP at rest or in logs (sentinel)', () => {
  let app: TestApp;
  const captured: string[] = [];
  const originalWrite = process.stdout.write.bind(process.stdout);

  beforeAll(async () => {
    // pino writes to stdout; capture every line while this app runs at the most verbose level.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return originalWrite(chunk, ...(rest as []));
    }) as typeof process.stdout.write;
    app = await startTestApp({ env: { LOG_LEVEL: 'trace', REVERSE_DNS: 'off' } });
  });

  afterAll(async () => {
    await app.close();
    process.stdout.write = originalWrite;
  });

  it('stores and logs only hashes of the IP, whichever form carried it', async () => {
    const site = await createIngestSite(app);
    await request(app.url)
      .post('/api/v1/traffic')
      .set('Authorization', site.key)
      .query({ url: '/', ip_addr: SENTINEL_IP, user_agent: FIREFOX_UA })
      .expect(202);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send({
        hits: [
          { url: '/x', ip: SENTINEL_IP, userAgent: FIREFOX_UA },
          { url: 3, ip: SENTINEL_IP },
        ],
      })
      .expect(202);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send({ url: '/', ip: `${SENTINEL_IP}x` })
      .expect(400);
    await app.app.get(SessionsService).flush();
    const db = app.database.db;
    let documents = 0;
    for (const { name } of await db.listCollections().toArray()) {
      for (const document of await db.collection(name).find({}).toArray()) {
        documents++;
        expect(JSON.stringify(document)).not.toContain(SENTINEL_IP);
      }
    }
    expect(documents).toBeGreaterThan(3);
    expect((await db.collection('hits').findOne({ path: '/x' }))?.city).toBe('St Albans');
    const logs = captured.join('');
    expect(logs).toContain('/api/v1/traffic');
    expect(logs).not.toContain(SENTINEL_IP);
  });
});
