import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, createUser, login, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('goals: admin API under the site routes', () => {
  let app: TestApp;
  let admin: string;
  let site: CreatedSite;

  const goalsOf = (siteId: string) => `/api/v1/sites/${siteId}/goals`;

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, admin);
  });

  afterAll(async () => {
    await app.close();
  });

  it('creates page and event goals with default names, lists them in order, renames and deletes them', async () => {
    const page = await request(app.url)
      .post(goalsOf(site.id))
      .auth(admin, { type: 'bearer' })
      .send({ pagePath: '/signup/*' })
      .expect(201);
    expect(page.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      siteId: site.id,
      kind: 'page',
      pagePath: '/signup/*',
      eventName: null,
      property: null,
      displayName: 'Visit /signup/*',
      revenueCurrency: null,
      createdAt: expect.any(String),
    });
    const event = await request(app.url)
      .post(goalsOf(site.id))
      .auth(admin, { type: 'bearer' })
      .send({ eventName: 'Purchase', property: { key: 'plan', value: 'pro' }, revenueCurrency: 'eur' })
      .expect(201);
    expect(event.body).toMatchObject({
      kind: 'event',
      eventName: 'Purchase',
      property: { key: 'plan', value: 'pro' },
      displayName: 'Purchase',
      revenueCurrency: 'EUR',
    });
    const stored = await app.database.db.collection('goals').countDocuments({});
    expect(stored).toBeGreaterThanOrEqual(2);

    const list = await request(app.url).get(goalsOf(site.id)).auth(admin, { type: 'bearer' }).expect(200);
    expect(list.body.map((goal: { displayName: string }) => goal.displayName)).toEqual(['Visit /signup/*', 'Purchase']);

    const renamed = await request(app.url)
      .patch(`${goalsOf(site.id)}/${event.body.id}`)
      .auth(admin, { type: 'bearer' })
      .send({ displayName: 'Pro purchase', revenueCurrency: null })
      .expect(200);
    expect(renamed.body).toMatchObject({ displayName: 'Pro purchase', revenueCurrency: null, eventName: 'Purchase' });

    await request(app.url)
      .delete(`${goalsOf(site.id)}/${page.body.id}`)
      .auth(admin, { type: 'bearer' })
      .expect(204);
    await request(app.url)
      .get(`${goalsOf(site.id)}/${page.body.id}`)
      .auth(admin, { type: 'bearer' })
      .expect(404);
    await request(app.url)
      .delete(`${goalsOf(site.id)}/not-an-id`)
      .auth(admin, { type: 'bearer' })
      .expect(404);
  });

  it('refuses bad goals with a 400 naming what is wrong, and a duplicate name with 409', async () => {
    const refuse = async (body: Record<string, unknown>, expected: string, status = 400) => {
      const response = await request(app.url)
        .post(goalsOf(site.id))
        .auth(admin, { type: 'bearer' })
        .send(body)
        .expect(status);
      expect(response.body.message).toContain(expected);
    };
    await refuse({}, 'pagePath or eventName is required');
    await refuse({ pagePath: '/a', eventName: 'B' }, 'not both');
    await refuse({ pagePath: 'no-slash' }, 'pagePath must start with /');
    await refuse({ pagePath: '/a', revenueCurrency: 'EUR' }, 'revenueCurrency is only for event goals');
    await refuse({ pagePath: '/a', property: { key: 'k', value: 'v' } }, 'property is only for event goals');
    await refuse({ eventName: 'pageview' }, 'eventName cannot be pageview');
    await refuse({ eventName: 'Buy', revenueCurrency: 'EURO' }, 'revenueCurrency must be an ISO 4217 currency code');
    await refuse({ eventName: 'Buy', property: { key: '$where', value: 'x' } }, 'property.key must be 1–64 characters');
    await refuse({ eventName: 'Buy', property: { key: 'plan' } }, 'property.value is required');
    await refuse({ eventName: null }, 'eventName must be a string');
    await refuse({ eventName: 'Buy', owner: 'me' }, 'owner');
    await request(app.url)
      .post(goalsOf(site.id))
      .auth(admin, { type: 'bearer' })
      .send({ eventName: 'Twice' })
      .expect(201);
    await refuse({ eventName: 'Twice' }, 'A goal named "Twice" already exists', 409);
    await request(app.url)
      .post(goalsOf('65f1c0ffee0000000000beef'))
      .auth(admin, { type: 'bearer' })
      .send({ eventName: 'X' })
      .expect(404);
  });

  it("lets the site's viewers read goals but not manage them; other viewers and site keys get 403", async () => {
    const other = await createSite(app.url, admin);
    const viewer = await createUser(app.url, admin, { siteIds: [site.id] });
    const token = (await login(app.url, viewer.email, viewer.password)).accessToken;
    const list = await request(app.url).get(goalsOf(site.id)).auth(token, { type: 'bearer' }).expect(200);
    expect(Array.isArray(list.body)).toBe(true);
    expect(list.body.length).toBeGreaterThan(0);
    await request(app.url).get(goalsOf(other.id)).auth(token, { type: 'bearer' }).expect(403);
    await request(app.url).post(goalsOf(site.id)).auth(token, { type: 'bearer' }).send({ eventName: 'V' }).expect(403);
    const key = await createKey(app.url, admin, site.id, ['read']);
    await request(app.url).get(goalsOf(site.id)).auth(key.key, { type: 'bearer' }).expect(403);
    await request(app.url).get(goalsOf(site.id)).expect(401);
  });
});
