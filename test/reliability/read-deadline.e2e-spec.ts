import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { READ_DEADLINE_SHARE } from '../../src/common/interceptors/read-deadline.interceptor.js';
import { StatsEngine } from '../../src/stats/stats-engine.service.js';
import { createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Short, so a read slower than its share of it is quick to provoke. */
const HTTP_TIMEOUT_MS = 2000;

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
    expect(performance.now() - started).toBeLessThan(2 * HTTP_TIMEOUT_MS * READ_DEADLINE_SHARE + 500);
    slow.mockRestore();
    await request(app.url)
      .get('/api/v1/stats/overview')
      .query({ siteId: site.id })
      .auth(token, { type: 'bearer' })
      .expect(200);
  });
});
