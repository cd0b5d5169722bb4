import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Operation {
  method: string;
  path: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string }>;
}

/**
 * Routes anyone may call. Any other route in the generated document must refuse an anonymous
 * call: a new route without a guard (or one marked @Public by mistake) fails this test until it
 * is either protected or added here on purpose.
 */
const PUBLIC_ROUTES = new Set([
  'GET /health/live',
  'GET /health/ready',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/logout',
  // First run: answers only whether an account exists; creating one needs the setup code.
  'GET /api/v1/setup',
  'POST /api/v1/setup',
  'GET /tracker.js',
  // CORS preflight: answers only with CORS headers, the POST itself authenticates.
  'OPTIONS /api/v1/hits',
  // Plausible's and Umami's ingest APIs take no key, as in those products: the site is named in the
  // body, and its domain / allowedOrigins rules and the per-IP limit decide what is recorded.
  'POST /api/event',
  'POST /api/send',
  'POST /api/batch',
]);

const SAMPLE_ID = '65f000000000000000000001';
const VALID_PARAMETERS: Record<string, string> = {
  start_date: '2024-01-01',
  end_date: '2024-01-31',
  period: '7d',
  dimension: 'page',
};

function operations(document: {
  paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>;
}): Operation[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path })),
  );
}

const concrete = (path: string) => path.replace(/\{[^}]+\}/g, SAMPLE_ID);

describe('security: the route table', () => {
  let app: TestApp;
  let all: Operation[];

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    all = operations((await request(app.url).get('/openapi.json').expect(200)).body);
  });

  afterAll(async () => {
    await app.close();
  });

  it('documents a security requirement on every route that is not deliberately public', () => {
    const undocumented = all.filter((op) => !op.security?.length && !PUBLIC_ROUTES.has(`${op.method} ${op.path}`));
    expect(undocumented.map((op) => `${op.method} ${op.path}`)).toEqual([]);
    expect(all.length).toBeGreaterThan(20);
  });

  it('answers an anonymous call to every non-public route with 401 and the JSON error shape', async () => {
    const protectedOps = all.filter((op) => !PUBLIC_ROUTES.has(`${op.method} ${op.path}`));
    const failures: string[] = [];
    for (const op of protectedOps) {
      const response = await request(app.url)[op.method.toLowerCase() as 'get'](concrete(op.path)).send({});
      if (response.status !== 401 || response.body.statusCode !== 401)
        failures.push(`${op.method} ${op.path} → ${response.status}`);
    }
    expect(failures).toEqual([]);
    expect(protectedOps.length).toBeGreaterThan(20);
  });

  it('gives a viewer 403 on every read route when asking for a site it was not given', async () => {
    const admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    const own = await createSite(app.url, admin);
    const other = await createSite(app.url, admin);
    const viewer = await createUser(app.url, admin, { siteIds: [own.id] });
    const token = (await login(app.url, viewer.email, viewer.password)).accessToken;
    // A funnel of the viewer's own site: another site's answer is 403 before any funnel is looked up.
    const goal = async (body: object) =>
      (await request(app.url).post(`/api/v1/sites/${own.id}/goals`).auth(admin, { type: 'bearer' }).send(body)).body
        .id as string;
    const goalIds = [await goal({ pagePath: '/' }), await goal({ eventName: 'Signup' })];
    const funnel = await request(app.url)
      .post(`/api/v1/sites/${own.id}/funnels`)
      .auth(admin, { type: 'bearer' })
      .send({ name: 'Own', goalIds });
    const parameters = { ...VALID_PARAMETERS, funnelId: funnel.body.id as string };
    const readRoutes = all.filter(
      (op) => op.method === 'GET' && op.parameters?.some((p) => p.in === 'query' && p.name === 'siteId'),
    );
    expect(readRoutes.length).toBeGreaterThan(5);
    const failures: string[] = [];
    for (const op of readRoutes) {
      const accepted = new Set(op.parameters?.map((p) => p.name));
      // Otherwise valid parameters, so nothing but the site decides the answer.
      const valid = Object.fromEntries(Object.entries(parameters).filter(([name]) => accepted.has(name)));
      for (const siteId of [other.id, other.domain]) {
        const response = await request(app.url)
          .get(op.path)
          .auth(token, { type: 'bearer' })
          .query({ ...valid, siteId });
        if (response.status !== 403)
          failures.push(`${op.path}?siteId=${siteId} → ${response.status} ${response.body.message}`);
      }
      const ownSite = await request(app.url)
        .get(op.path)
        .auth(token, { type: 'bearer' })
        .query({ ...valid, siteId: own.id });
      if (ownSite.status !== 200) failures.push(`${op.path} own site → ${ownSite.status} ${ownSite.body.message}`);
    }
    const query = await request(app.url)
      .post('/api/v1/stats/query')
      .auth(token, { type: 'bearer' })
      .send({ siteId: other.id, metrics: ['visitors'], dateRange: { period: '7d' } });
    if (query.status !== 403)
      failures.push(`POST /api/v1/stats/query other site → ${query.status} ${JSON.stringify(query.body)}`);
    expect(failures).toEqual([]);
  });
});
