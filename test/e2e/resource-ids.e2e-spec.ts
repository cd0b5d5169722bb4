import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Ids that cannot be ids: MongoDB takes any 12-character string as one, Siteline only 24 hex characters. */
const MALFORMED = ['not-an-id', 'twelve-chars', '665f1c2b9d3e4a001234567g', '665f1c2b9d3e4a00123456780'];
const UNKNOWN = '665f1c2b9d3e4a0012345678';

/**
 * The site's goals, funnels and segments answer an id in their path alike: what cannot be an id
 * is a 400 naming the parameter, an id that names nothing on the site a 404 naming the id.
 */
describe('goal, funnel and segment ids: malformed is a 400 naming the parameter, unknown a 404', () => {
  let app: TestApp;
  let site: CreatedSite;
  let admin: string;

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, admin, { domain: 'ids.example', timezone: 'UTC' });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  const routes = [
    { collection: 'goals', parameter: 'goalId', kind: 'goal', patch: { displayName: 'X' } },
    { collection: 'funnels', parameter: 'funnelId', kind: 'funnel', patch: { name: 'X' } },
    { collection: 'segments', parameter: 'segmentId', kind: 'segment', patch: { name: 'X' } },
  ];
  const methods = ['get', 'patch', 'delete'] as const;
  const send = (method: (typeof methods)[number], path: string, body: object) => {
    const call = request(app.url)[method](path).auth(admin, { type: 'bearer' });
    return method === 'patch' ? call.send(body) : call;
  };

  it.each(routes)('/$collection/:$parameter', async ({ collection, parameter, kind, patch }) => {
    const base = `/api/v1/sites/${site.id}/${collection}`;
    for (const method of methods) {
      for (const id of MALFORMED) {
        const malformed = await send(method, `${base}/${id}`, patch);
        expect([method, id, malformed.status, malformed.body.message]).toEqual([
          method,
          id,
          400,
          `${parameter} must be a ${kind} id (24 hex characters), got "${id}"`,
        ]);
      }
      const unknown = await send(method, `${base}/${UNKNOWN}`, patch);
      expect([method, unknown.status]).toEqual([method, 404]);
      expect(unknown.body.message).toMatch(new RegExp(`^${kind} ${UNKNOWN} not found on site `, 'i'));
    }
  });

  it.each(routes)(
    '/sites/{id}/$collection takes the site id or domain; a missing site is a 404 naming it',
    async ({ collection }) => {
      for (const ref of [site.id, 'ids.example']) {
        const listed = await request(app.url).get(`/api/v1/sites/${ref}/${collection}`).auth(admin, { type: 'bearer' });
        expect([ref, listed.status]).toEqual([ref, 200]);
      }
      const missing = await request(app.url)
        .get(`/api/v1/sites/missing.example/${collection}`)
        .auth(admin, { type: 'bearer' })
        .expect(404);
      expect(missing.body.message).toBe('Site missing.example not found');
    },
  );

  it('names the step in a funnel body whose goal id is malformed, and refuses an unknown one with a 400', async () => {
    const post = (goalIds: string[]) =>
      request(app.url)
        .post(`/api/v1/sites/${site.id}/funnels`)
        .auth(admin, { type: 'bearer' })
        .send({ name: 'Two steps', goalIds });
    const goal = (
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/goals`)
        .auth(admin, { type: 'bearer' })
        .send({ eventName: 'Signup' })
        .expect(201)
    ).body.id as string;
    const malformed = await post([goal, 'nope']).expect(400);
    expect(malformed.body.message).toBe('goalIds[1] must be a goal id (24 hex characters), got "nope"');
    // A body field referring to nothing is a bad request, not a missing resource at the URL.
    const unknown = await post([goal, UNKNOWN]).expect(400);
    expect(unknown.body.message).toBe(`goalIds[1]: ${UNKNOWN} is not a goal of site ids.example`);
  });
});
