import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
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
    // What cannot be an id is a 400 naming the parameter, as for funnels and segments.
    const malformed = await request(app.url)
      .delete(`${goalsOf(site.id)}/not-an-id`)
      .auth(admin, { type: 'bearer' })
      .expect(400);
    expect(malformed.body.message).toBe('goalId must be a goal id (24 hex characters), got "not-an-id"');
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
    await refuse({ eventName: 'Buy', property: [] }, 'property must be an object');
    await refuse({ eventName: 'Buy', owner: 'me' }, 'owner');
    await request(app.url)
      .post(goalsOf(site.id))
      .auth(admin, { type: 'bearer' })
      .send({ eventName: 'Twice' })
      .expect(201);
    await refuse({ eventName: 'Twice' }, 'A goal named "Twice" already exists', 409);
    const twice = await request(app.url).get(goalsOf(site.id)).auth(admin, { type: 'bearer' }).expect(200);
    const blank = await request(app.url)
      .patch(`${goalsOf(site.id)}/${twice.body[twice.body.length - 1].id}`)
      .auth(admin, { type: 'bearer' })
      .send({ displayName: '   ' })
      .expect(400);
    expect(blank.body.message).toContain('displayName should not be empty');
    await request(app.url)
      .post(goalsOf('65f1c0ffee0000000000beef'))
      .auth(admin, { type: 'bearer' })
      .send({ eventName: 'X' })
      .expect(404);
  });

  it('keeps a site to 100 goals', async () => {
    const crowded = await createSite(app.url, admin);
    for (let index = 0; index < 100; index++) {
      await request(app.url)
        .post(goalsOf(crowded.id))
        .auth(admin, { type: 'bearer' })
        .send({ eventName: `Event ${index}` })
        .expect(201);
    }
    const refused = await request(app.url)
      .post(goalsOf(crowded.id))
      .auth(admin, { type: 'bearer' })
      .send({ eventName: 'One too many' })
      .expect(400);
    expect(refused.body.message).toContain('A site has at most 100 goals');
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

describe('goals: conversion queries over HTTP, their shapes and their refusals', () => {
  let app: TestApp;
  let admin: string;
  let site: CreatedSite;
  const clock = new FixedClock(new Date('2024-05-10T12:00:00Z'));
  const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
  const dateRange = { from: '2024-05-01', to: '2024-05-10' };

  const query = (body: Record<string, unknown>) =>
    request(app.url)
      .post('/api/v1/stats/query')
      .auth(admin, { type: 'bearer' })
      .send({ siteId: site.id, dateRange, ...body });
  const v2 = (body: Record<string, unknown>) =>
    request(app.url)
      .post('/api/v2/query')
      .auth(admin, { type: 'bearer' })
      .send({ site_id: site.domain, date_range: ['2024-05-01', '2024-05-10'], ...body });

  beforeAll(async () => {
    app = await startTestApp({
      env: bootstrapAdminEnv,
      override: (builder) => builder.overrideProvider(Clock).useValue(clock),
    });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, admin, { timezone: 'UTC' });
    const ingestKey = (await createKey(app.url, admin, site.id, ['ingest'])).key;
    const hit = (ip: string, minute: number, path: string, extra: Record<string, unknown> = {}) => ({
      url: `https://${site.domain}${path}`,
      ip,
      userAgent: UA,
      timestamp: new Date(Date.parse('2024-05-03T10:00:00Z') + minute * 60_000).toISOString(),
      ...extra,
    });
    // Three visitors: A buys twice (EUR 10 and 30), B visits /pricing, C only the home page.
    const hits = [
      hit('81.2.69.142', 0, '/'),
      hit('81.2.69.142', 1, '/checkout', { name: 'Purchase', revenue: { currency: 'EUR', amount: 10 } }),
      hit('81.2.69.142', 2, '/checkout', { name: 'Purchase', revenue: { currency: 'EUR', amount: '30' } }),
      hit('89.160.20.112', 0, '/pricing'),
      hit('2.125.160.216', 0, '/'),
    ];
    await request(app.url).post('/api/v1/hits').auth(ingestKey, { type: 'bearer' }).send({ hits }).expect(202);
    await app.app.get(SessionsService).flush();
    for (const body of [{ eventName: 'Purchase', revenueCurrency: 'EUR' }, { pagePath: '/pric*' }]) {
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/goals`)
        .auth(admin, { type: 'bearer' })
        .send(body)
        .expect(201);
    }
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('counts past hits for a goal created after them, per goal, with rates and revenue in the goal currency', async () => {
    const response = await query({
      dimensions: ['goal'],
      metrics: ['visitors', 'events', 'conversionRate', 'revenueTotal', 'revenueAverage'],
    }).expect(200);
    expect(response.body.results).toEqual([
      {
        dimensions: { goal: 'Purchase' },
        metrics: { visitors: 1, events: 2, conversionRate: 33.3, revenueTotal: 40, revenueAverage: 20 },
        revenueCurrency: 'EUR',
      },
      {
        dimensions: { goal: 'Visit /pric*' },
        metrics: { visitors: 1, events: 1, conversionRate: 33.3, revenueTotal: null, revenueAverage: null },
        revenueCurrency: null,
      },
    ]);
  });

  it('answers Plausible v2 event:goal with conversion_rate and revenue objects', async () => {
    const response = await v2({
      metrics: ['visitors', 'events', 'conversion_rate', 'total_revenue'],
      dimensions: ['event:goal'],
      order_by: [['visitors', 'desc']],
    }).expect(200);
    expect(response.body.results).toEqual([
      {
        dimensions: ['Purchase'],
        metrics: [1, 2, 33.3, { short: '€40', long: '€40.00', value: 40, currency: 'EUR' }],
      },
      { dimensions: ['Visit /pric*'], metrics: [1, 1, 33.3, null] },
    ]);
    const filtered = await v2({
      metrics: ['visitors', 'group_conversion_rate'],
      dimensions: ['event:page'],
      filters: [['is', 'event:goal', ['Visit /pric*']]],
    }).expect(200);
    expect(filtered.body.results).toEqual([{ dimensions: ['/pricing'], metrics: [1, 100] }]);
  });

  it('refuses what a goal query cannot answer with a 400 naming it', async () => {
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ metrics: ['conversionRate'] }, 'conversionRate can only be queried with a goal dimension or a goal filter'],
      [{ metrics: ['bounceRate'], dimensions: ['goal'] }, 'a goal query answers visitors, events'],
      [{ metrics: ['visitors'], filters: [['is_not', 'goal', ['Purchase']]] }, 'operator on goal must be one of'],
      [{ metrics: ['visitors'], filters: [['has_done', 'page', ['/']]] }, 'has_done applies to goal only'],
      [{ metrics: ['visitors'], filters: [['is', 'goal', []]] }, 'values must be a list of 1 to 100 goal names'],
      [{ metrics: ['visitors'], dimensions: ['goal', 'goal'] }, 'dimensions must not repeat'],
    ];
    for (const [body, message] of refusals) {
      const response = await query(body).expect(400);
      expect(response.body.message).toContain(message);
    }
    const v2Refusal = await v2({ metrics: ['conversion_rate'] }).expect(400);
    expect(v2Refusal.body.error).toContain('can only be queried with a goal dimension or a goal filter');
  });
});
