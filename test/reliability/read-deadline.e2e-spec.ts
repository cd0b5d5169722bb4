import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { REQUEST_DEADLINE_SHARE } from '../../src/common/http/request-deadline.js';
import { SitesService } from '../../src/sites/sites.service.js';
import { StatsEngine } from '../../src/stats/stats-engine.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Short, so a read slower than its share of it is quick to provoke. */
const HTTP_TIMEOUT_MS = 4000;

/**
 * A stats read that outlives most of the HTTP timeout (after a bulk load it may wait for the
 * sessionizer, then read raw hits) answers 503 + Retry-After before the socket timeout would
 * cut the connection without an answer.
 */
describe('read deadline', () => {
  let app: TestApp;
  let token: string;
  let site: CreatedSite;

  beforeAll(async () => {
    app = await startTestApp({ env: { ...bootstrapAdminEnv, HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS) } });
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token);
  });

  afterAll(async () => app.close());

  it('answers a read still working at its deadline with 503 + Retry-After, and the next read normally', async () => {
    const engine = app.app.get(StatsEngine);
    const slow = jest.spyOn(engine, 'run').mockImplementation(async () => {
      await sleep(HTTP_TIMEOUT_MS * 2);
      return [];
    });
    const started = performance.now();
    const reads: Array<[string, Record<string, string>]> = [
      ['/api/v1/stats/overview', {}],
      ['/api/v1/data/cities', { start_date: '2026-01-01', end_date: '2026-01-31' }],
    ];
    for (const [path, range] of reads) {
      const response = await request(app.url)
        .get(path)
        .query({ siteId: site.id, ...range })
        .auth(token, { type: 'bearer' });
      expect({ path, status: response.status }).toEqual({ path, status: 503 });
      expect(response.headers['retry-after']).toBe('5');
      expect(response.body.message).toMatch(/taking too long/);
    }
    // Both answered at their deadline, well before the socket timeout.
    expect(performance.now() - started).toBeLessThan(2 * HTTP_TIMEOUT_MS * REQUEST_DEADLINE_SHARE + 500);
    slow.mockRestore();
    await request(app.url)
      .get('/api/v1/stats/overview')
      .query({ siteId: site.id })
      .auth(token, { type: 'bearer' })
      .expect(200);
  });

  it('answers 503 + Retry-After within the deadline when the wait is before the handler (a key lookup behind a busy database), never a cut connection', async () => {
    const { key } = await createKey(app.url, token, site.id, ['read']);
    // The guard authenticates the key before any interceptor or handler runs: a deadline counted
    // from the handler never started, and the socket timeout cut the connection without an answer.
    const sites = app.app.get(SitesService);
    const authenticate = sites.authenticateKey.bind(sites);
    const stalled = jest.spyOn(sites, 'authenticateKey').mockImplementation(async (presented) => {
      await sleep(HTTP_TIMEOUT_MS * 2, undefined, { ref: false });
      return authenticate(presented);
    });
    const started = performance.now();
    const outcome = await fetch(`${app.url}/api/v1/stats/overview?siteId=${site.id}`, {
      headers: { authorization: key },
    }).then(
      async (response) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        message: ((await response.json()) as { message: string }).message,
      }),
      (error: unknown) => ({ status: 0, retryAfter: null, message: String(error) }),
    );
    const elapsed = performance.now() - started;
    stalled.mockRestore();
    expect(outcome).toEqual({ status: 503, retryAfter: '5', message: expect.stringMatching(/taking too long/) });
    // At the deadline, before the socket timeout would have cut the connection.
    expect(elapsed).toBeGreaterThanOrEqual(HTTP_TIMEOUT_MS * REQUEST_DEADLINE_SHARE - 50);
    expect(elapsed).toBeLessThan(HTTP_TIMEOUT_MS);
  });
});
