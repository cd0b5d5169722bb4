import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
});
