import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createIngestSite, keyHit } from '../factories/hit-fixtures.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** What the request logger writes: one JSON line per request, with only the fields we chose. */
describe('request logging', () => {
  let app: TestApp;
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);

  beforeAll(async () => {
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      lines.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
    app = await startTestApp({ env: { LOG_LEVEL: 'info' } });
  });

  afterAll(async () => {
    await app.close();
    process.stdout.write = write;
  });

  function requestLines(): Array<{ req: { id: string; method: string; path: string }; res: { statusCode: number } }> {
    return lines
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.includes('"responseTime"'))
      .map((line) => JSON.parse(line));
  }

  it('writes one line per request with id, method, path without query, and status', async () => {
    const response = await fetch(`${app.url}/api/v1/sites?token=secret-in-query`, {
      headers: { 'x-request-id': 'log-check-1' },
    });
    expect(response.status).toBe(401);
    const line = requestLines().find((entry) => entry.req.id === 'log-check-1');
    expect(line).toEqual(
      expect.objectContaining({
        req: { id: 'log-check-1', method: 'GET', path: '/api/v1/sites' },
        res: { statusCode: 401 },
      }),
    );
    expect(lines.join('')).not.toContain('secret-in-query');
  });

  it('does not log health probes', async () => {
    await fetch(`${app.url}/health/live`, { headers: { 'x-request-id': 'probe-1' } });
    await fetch(`${app.url}/api/v1/sites`, { headers: { 'x-request-id': 'after-probe' } });
    expect(requestLines().some((entry) => entry.req.id === 'after-probe')).toBe(true);
    expect(requestLines().some((entry) => entry.req.id === 'probe-1')).toBe(false);
  });

  it('logs accepted hits only at debug level, and refused ones as warnings', async () => {
    const site = await createIngestSite(app);
    const post = (id: string, body: unknown) =>
      fetch(`${app.url}/api/v1/hits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: site.key, 'x-request-id': id },
        body: JSON.stringify(body),
      });
    expect((await post('accepted-hit', { hits: [keyHit()] })).status).toBe(202);
    expect((await post('refused-hit', { hits: [{ url: 42 }] })).status).toBe(400);
    await fetch(`${app.url}/api/v1/sites`, { headers: { 'x-request-id': 'after-ingest' } });
    expect(requestLines().some((entry) => entry.req.id === 'after-ingest')).toBe(true);
    expect(requestLines().some((entry) => entry.req.id === 'accepted-hit')).toBe(false);
    expect(requestLines().find((entry) => entry.req.id === 'refused-hit')).toEqual(
      expect.objectContaining({ level: 40, res: { statusCode: 400 } }),
    );
  });
});
