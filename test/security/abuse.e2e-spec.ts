import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import request from 'supertest';
import { createIngestSite, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Short enough for a test, long enough that a normal request never hits it. */
const HTTP_TIMEOUT_MS = 1500;

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
      env: { HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS), INGEST_KEY_RATE_LIMIT: '2', INGEST_IP_RATE_LIMIT: '2' },
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
});
