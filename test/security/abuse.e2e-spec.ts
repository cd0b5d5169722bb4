import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { ObjectId } from 'mongodb';
import request from 'supertest';
import { createIngestSite, FIREFOX_UA, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Short enough for a test, long enough that a normal request never hits it, even on a machine so
 * loaded that a hit's write takes seconds (at 1,500 ms a rate-limit request was cut there).
 */
const HTTP_TIMEOUT_MS = 4000;

/** Key-less (tracker) sends per second per client IP; the burst is twice that. */
const IP_RATE = 2;
const IP_BURST = IP_RATE * 2;

interface Send {
  path: string;
  status: number;
  retryAfter?: string;
  body: unknown;
}

/** One key-less browser send (the tracker's form): siteId in the body, the site's Origin, no key. */
async function browserSend(baseUrl: string, site: IngestSite, origin: string, path: string, forwardedFor?: string) {
  const call = request(baseUrl)
    .post('/api/v1/hits')
    .set('Origin', origin)
    .set('User-Agent', FIREFOX_UA)
    .send({ siteId: site.siteId, url: path });
  if (forwardedFor !== undefined) void call.set('X-Forwarded-For', forwardedFor);
  const response = await call;
  return {
    path,
    status: response.status,
    retryAfter: response.headers['retry-after'] as string | undefined,
    body: response.body as unknown,
  } satisfies Send;
}

/** The paths of the hits stored for a site. */
async function storedPaths(app: TestApp, site: IngestSite): Promise<string[]> {
  const hits = await app.database.db
    .collection('hits')
    .find({ siteId: new ObjectId(site.siteId) }, { projection: { path: 1 } })
    .toArray();
  return hits.map((hit) => String(hit.path)).sort();
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

interface RawExchange {
  /** What the server answered (status line and all), possibly nothing. */
  answer: string;
  /** Milliseconds until the server closed the connection. */
  closedAfterMs: number;
  bytesSent: number;
}

/** Opens a raw connection, lets `feed` write to it, and resolves when the server closes it. */
function rawExchange(
  port: number,
  feed: (socket: Socket, sent: (bytes: number) => void) => void,
  limitMs: number,
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let answer = '';
    let bytesSent = 0;
    const socket = connect(port, '127.0.0.1', () => feed(socket, (bytes) => (bytesSent += bytes)));
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept the connection open for ${limitMs} ms; answer so far: ${answer.slice(0, 200)}`));
    }, limitMs);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ answer, closedAfterMs: performance.now() - started, bytesSent });
    });
  });
}

describe('security: abuse resistance', () => {
  let app: TestApp;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp({
      // No TRUST_PROXY: X-Forwarded-For is not believed, every test request comes from 127.0.0.1.
      env: {
        HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS),
        INGEST_KEY_RATE_LIMIT: '2',
        INGEST_IP_RATE_LIMIT: String(IP_RATE),
      },
    });
    site = await createIngestSite(app, { allowedOrigins: ['https://shop.partner.test'] });
  }, 60_000);

  afterAll(async () => {
    await app.close();
  });

  it('cuts off a client that trickles its headers (slowloris) after the request timeout', async () => {
    const exchange = await rawExchange(
      portOf(app.url),
      (socket, sent) => {
        socket.write('POST /api/v1/hits HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        let line = 0;
        const timer = setInterval(() => {
          if (socket.destroyed) return clearInterval(timer);
          const header = `X-Slow-${line++}: a\r\n`;
          socket.write(header);
          sent(header.length);
        }, 100);
        socket.on('close', () => clearInterval(timer));
      },
      HTTP_TIMEOUT_MS * 5,
    );
    expect(exchange.closedAfterMs).toBeLessThan(HTTP_TIMEOUT_MS * 3);
    expect(exchange.answer === '' || exchange.answer.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('cuts off a client that trickles its body after the request timeout', async () => {
    const exchange = await rawExchange(
      portOf(app.url),
      (socket) => {
        socket.write(
          `POST /api/v1/hits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${site.key}\r\nContent-Length: 100000\r\n\r\n{`,
        );
        const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(' ')), 100);
        socket.on('close', () => clearInterval(timer));
      },
      HTTP_TIMEOUT_MS * 5,
    );
    expect(exchange.closedAfterMs).toBeLessThan(HTTP_TIMEOUT_MS * 3);
  });

  it('answers 413 to a huge chunked body before it has been sent, without buffering it', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const exchange = await rawExchange(
      portOf(app.url),
      (socket, sent) => {
        socket.write(
          `POST /api/v1/hits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${site.key}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        let written = 0;
        const pump = (): void => {
          while (!socket.destroyed && written < total) {
            written += chunk.length;
            sent(chunk.length);
            if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`))
              return void socket.once('drain', pump);
          }
          if (!socket.destroyed) socket.end('0\r\n\r\n');
        };
        socket.on('data', () => socket.destroy());
        pump();
      },
      30_000,
    );
    expect(exchange.answer).toMatch(/^HTTP\/1\.1 413 /);
    // Answered after a little over the 1 MB limit, not after the 64 MB the client meant to send.
    expect(exchange.bytesSent).toBeLessThan(16 * 1024 * 1024);
  });

  it('answers 413 to a Content-Length over the limit without reading the body', async () => {
    const exchange = await rawExchange(
      portOf(app.url),
      (socket) => {
        socket.write(
          `POST /api/v1/hits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${site.key}\r\nContent-Length: ${512 * 1024 * 1024}\r\nConnection: close\r\n\r\n`,
        );
      },
      10_000,
    );
    expect(exchange.answer).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('rate-limits ingest per key with 429 and Retry-After', async () => {
    const statuses: Array<{ status: number; retryAfter?: string }> = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      const response = await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send(keyHit());
      statuses.push({ status: response.status, retryAfter: response.headers['retry-after'] as string | undefined });
    }
    const limited = statuses.filter((entry) => entry.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const entry of limited) expect(entry.retryAfter).toMatch(/^[1-9]\d*$/);
    expect(statuses.filter((entry) => entry.status !== 429 && entry.status !== 202)).toEqual([]);
    // Each key has a bucket of its own: another site's key, from the same client, is still accepted.
    const other = await createIngestSite(app);
    await request(app.url).post('/api/v1/hits').set('Authorization', other.key).send(keyHit()).expect(202);
  });

  it('sends security headers on API responses, errors, the dashboard and Swagger UI', async () => {
    for (const path of ['/health/live', '/api/v1/auth/me', '/no/such/route', '/openapi.json']) {
      const response = await request(app.url).get(path);
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'SAMEORIGIN',
        'strict-transport-security': expect.stringContaining('max-age='),
        'referrer-policy': 'no-referrer',
      });
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
    const dashboard = await request(app.url).get('/').expect(200);
    expect(dashboard.headers['content-security-policy']).toContain("default-src 'none'");
    expect(dashboard.headers['content-security-policy']).toContain("script-src 'self'");
    expect(dashboard.headers['x-content-type-options']).toBe('nosniff');
    const docs = await request(app.url).get('/docs').redirects(1).expect(200);
    const policy = docs.headers['content-security-policy'] as string;
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain("'unsafe-eval'");
    // Swagger UI's scripts are files, not inline code: the policy needs no script exceptions.
    expect(docs.text).not.toMatch(/<script>(?!\s*<\/script>)/);
    // Client sites load the tracker from another origin.
    const tracker = await request(app.url).get('/tracker.js').expect(200);
    expect(tracker.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });

  it('allows cross-origin ingest only from the site own origins', async () => {
    const allowed = await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://shop.partner.test')
      .set('X-Forwarded-For', '198.51.100.1')
      .send({ siteId: site.siteId, url: '/from-partner' })
      .expect(202);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.partner.test');
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    for (const origin of ['https://evil.test', 'https://shop.partner.test.evil.test', 'null']) {
      const refused = await request(app.url)
        .post('/api/v1/hits')
        .set('Origin', origin)
        .send({ siteId: site.siteId, url: '/x' });
      expect(refused.status).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
    // A send without a key and without an Origin is not a browser of the site either.
    await request(app.url).post('/api/v1/hits').send({ siteId: site.siteId, url: '/x' }).expect(403);
    // Read routes never opt into CORS.
    const read = await request(app.url).get('/api/v1/auth/me').set('Origin', 'https://shop.partner.test');
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
  });

  // Runs last in this app: it drains the 127.0.0.1 bucket the CORS test above draws from.
  it('does not let a key-less sender escape the per-IP limit with a forged X-Forwarded-For', async () => {
    const spoofer = await createIngestSite(app, { allowedOrigins: ['https://spoofed.test'] });
    const sends: Send[] = [];
    const started = performance.now();
    for (let attempt = 0; attempt < 3 * IP_BURST; attempt++) {
      // A new "client address" on every request: not trusted without TRUST_PROXY.
      sends.push(
        await browserSend(app.url, spoofer, 'https://spoofed.test', `/spoof/${attempt}`, `198.51.100.${100 + attempt}`),
      );
    }
    const elapsedSeconds = (performance.now() - started) / 1000;
    const accepted = sends.filter((send) => send.status === 202);
    expect(sends.filter((send) => send.status !== 202 && send.status !== 429)).toEqual([]);
    expect(sends.filter((send) => send.status === 429).length).toBeGreaterThan(0);
    // All of them drew on the one bucket of 127.0.0.1: at most its burst plus what refilled meanwhile.
    expect(accepted.length).toBeLessThanOrEqual(IP_BURST + Math.ceil(elapsedSeconds * IP_RATE));
    expect(await storedPaths(app, spoofer)).toEqual(accepted.map((send) => send.path).sort());
  });

  describe('behind a trusted proxy (TRUST_PROXY=127.0.0.1)', () => {
    let proxied: TestApp;
    let browserSite: IngestSite;
    const origin = 'https://tracked.partner.test';

    beforeAll(async () => {
      proxied = await startTestApp({
        database: app.database,
        env: { TRUST_PROXY: '127.0.0.1', INGEST_KEY_RATE_LIMIT: '0', INGEST_IP_RATE_LIMIT: String(IP_RATE) },
      });
      browserSite = await createIngestSite(proxied, { allowedOrigins: [origin] });
    }, 60_000);

    afterAll(async () => {
      await proxied.close();
    });

    it('rate-limits key-less sends per client IP: 429 + Retry-After, other IPs unaffected, nothing over the limit stored', async () => {
      const flooder = '198.51.100.20';
      const bystander = '198.51.100.21';
      const sends: Send[] = [];
      const started = performance.now();
      for (let attempt = 0; attempt < 3 * IP_BURST; attempt++) {
        sends.push(await browserSend(proxied.url, browserSite, origin, `/ip-limit/flood/${attempt}`, flooder));
      }
      const elapsedSeconds = (performance.now() - started) / 1000;
      // A fresh bucket holds IP_BURST tokens: the first IP_BURST sends pass, then the flood is refused.
      expect(sends.slice(0, IP_BURST).map((send) => send.status)).toEqual(Array(IP_BURST).fill(202));
      const limited = sends.filter((send) => send.status === 429);
      expect(sends.filter((send) => send.status !== 202 && send.status !== 429)).toEqual([]);
      expect(limited.length).toBeGreaterThan(0);
      // No more than the burst plus what refilled (IP_RATE per second) while the loop ran.
      expect(sends.length - limited.length).toBeLessThanOrEqual(IP_BURST + Math.ceil(elapsedSeconds * IP_RATE));
      for (const send of limited) {
        // Delta-seconds (not an HTTP date): ceil(1 token / IP_RATE per second) = 1.
        expect(send.retryAfter).toBe(String(Math.ceil(1 / IP_RATE)));
        expect(send.body).toMatchObject({ statusCode: 429, message: 'Rate limit exceeded' });
      }

      // Another client behind the same proxy is not affected by the flood.
      const other = await browserSend(proxied.url, browserSite, origin, '/ip-limit/bystander', bystander);
      expect(other.status).toBe(202);

      // Every 202 is stored once; nothing refused with 429 is stored.
      const accepted = [...sends, other].filter((send) => send.status === 202).map((send) => send.path);
      const stored = await storedPaths(proxied, browserSite);
      expect(stored).toEqual([...accepted].sort());
      expect(stored.filter((path) => limited.some((send) => send.path === path))).toEqual([]);

      // Retry-After tells the truth: after waiting that long the flooder is accepted again.
      await new Promise((resolve) => setTimeout(resolve, Number(limited.at(-1)!.retryAfter) * 1000));
      const retried = await browserSend(proxied.url, browserSite, origin, '/ip-limit/flood/retry', flooder);
      expect(retried.status).toBe(202);
    });
  });
});
