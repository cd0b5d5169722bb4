import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { createIngestSite, keyHit, type IngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, BOOTSTRAP_ADMIN, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

/**
 * Every hostile value this file sends carries this marker (as an operator's operand, or in a
 * key), so the commands the app sends to MongoDB can be searched for exactly what came from
 * the requests, apart from the operators the app's own queries and pipelines use.
 */
const SENTINEL = 'zzInjected7f3a';

/** The operators the hostile requests try to smuggle in; none may reach MongoDB with a hostile operand. */
const INJECTED_OPERATORS = new Set(['$ne', '$gt', '$where', '$set']);

/** A command the app sent to MongoDB, as the driver's command monitoring reports it. */
interface StartedCommand {
  commandName: string;
  command: Record<string, unknown>;
}

/** True when any key anywhere in the document starts with `$` (an operator stored as data). */
function hasOperatorKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasOperatorKey);
  if (value === null || typeof value !== 'object' || value.constructor?.name === 'ObjectId' || value instanceof Date)
    return false;
  return Object.entries(value).some(([key, item]) => key.startsWith('$') || key.includes('.') || hasOperatorKey(item));
}

/** Plain objects and arrays only: BSON values (ObjectId, Binary, Long…), dates and buffers are leaves. */
function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (Array.isArray(value)) return true;
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) return false;
  return !('_bsontype' in value);
}

function containsSentinel(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(SENTINEL);
  if (!isContainer(value)) return false;
  return Object.entries(value).some(([key, item]) => key.includes(SENTINEL) || containsSentinel(item));
}

/**
 * Where a hostile value sits in a command as an operator or a field name: a key containing the
 * sentinel (`props: {"$zz…": 1}`, `{"zz….b": 1}`), or one of the injected operators with a
 * sentinel-bearing operand (`{ url: { $gt: "zz…" } }`, `$where: "…zz…"`).
 */
function injectedOperators(value: unknown, path: string, found: string[]): string[] {
  if (!isContainer(value)) return found;
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}.${key}`;
    if (key.includes(SENTINEL)) found.push(`${at} (hostile key)`);
    else if (INJECTED_OPERATORS.has(key) && containsSentinel(item)) found.push(`${at} = ${JSON.stringify(item)}`);
    injectedOperators(item, at, found);
  }
  return found;
}

/** Where the sentinel appears as a plain string value (literal data, which is fine). */
function sentinelValues(value: unknown, path: string, found: string[]): string[] {
  if (typeof value === 'string' && value.includes(SENTINEL)) found.push(path);
  if (isContainer(value))
    for (const [key, item] of Object.entries(value)) sentinelValues(item, `${path}.${key}`, found);
  return found;
}

describe('security: NoSQL operator injection', () => {
  let database: TestDatabase;
  let app: TestApp;
  let site: IngestSite;
  let other: IngestSite;
  let admin: string;
  /** Commands the app sent since the last check (see afterEach). */
  const commands: StartedCommand[] = [];
  /** Every command sent while the tests ran, for the control that the monitor sees request values. */
  const allCommands: StartedCommand[] = [];

  beforeAll(async () => {
    database = await startTestDatabase();
    // monitorCommands in the URI: the app's own MongoClient (mongoose's) reports every command it sends.
    const monitored = new URL(database.uri);
    monitored.searchParams.set('monitorCommands', 'true');
    app = await startTestApp({
      database,
      env: {
        ...bootstrapAdminEnv,
        MONGODB_URI: monitored.toString(),
        INGEST_KEY_RATE_LIMIT: '0',
        INGEST_IP_RATE_LIMIT: '0',
      },
    });
    const client = app.app.get<Connection>(getConnectionToken()).getClient();
    client.on('commandStarted', (event: StartedCommand) => {
      const started = { commandName: event.commandName, command: event.command };
      commands.push(started);
      allCommands.push(started);
    });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createIngestSite(app, { allowedOrigins: ['https://www.allowed.test'] });
    other = await createIngestSite(app);
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', other.key)
      .send(keyHit({ url: '/other-site-secret' }))
      .expect(202);
  }, 60_000);

  afterEach(() => {
    // Every command sent to MongoDB while the test's hostile requests ran (or since the last test).
    const sent = commands.splice(0);
    const findings = sent.flatMap((event) => injectedOperators(event.command, event.commandName, []));
    expect(findings).toEqual([]);
  });

  afterAll(async () => {
    await app.close();
    await database.close();
  });

  const range = { start_date: '2024-01-01', end_date: '2024-01-02' };

  // Fastify's query-string parser does not expand brackets: `siteId[$ne]` is a key of its own,
  // which the strict ValidationPipe refuses as an unknown property, like any `$` key.
  it.each([
    ['/api/v1/data/views', 'siteId[$ne]', { 'siteId[$ne]': SENTINEL, ...range }],
    ['/api/v1/data/views', 'siteId[$gt]', { 'siteId[$gt]': SENTINEL, ...range }],
    ['/api/v1/data/views', '$where', { siteId: 'x', $where: `sleep(1000) || "${SENTINEL}"`, ...range }],
    ['/api/v1/data/urls', 'siteId[$ne]', { 'siteId[$ne]': SENTINEL, ...range }],
    ['/api/v1/stats/overview', 'siteId[$ne]', { 'siteId[$ne]': SENTINEL, period: '7d' }],
    ['/api/v1/stats/overview', '$where', { $where: SENTINEL, period: '7d' }],
  ])('%s refuses %s in the query string with 400', async (path, key, query) => {
    const response = await request(app.url).get(path).auth(admin, { type: 'bearer' }).query(query);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, message: expect.stringContaining(`property ${key}`) });
  });

  // Not a 400: a string siteId is a valid parameter (an id or a domain). Read as a literal name it
  // names no site, hence 404 — and it must not be parsed into an operator that matches a site.
  it('reads a JSON operator given as siteId as a literal site name (404, no site matched)', async () => {
    const literal = `{"$ne":"${SENTINEL}"}`;
    const response = await request(app.url)
      .get('/api/v1/data/views')
      .auth(admin, { type: 'bearer' })
      .query({ siteId: literal, ...range });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', message: `Site ${literal} not found` });
  });

  it('refuses operators in JSON filters of the stats query and in login bodies', async () => {
    const filters = [
      ['is', 'country', [{ $ne: SENTINEL }]],
      ['is', { $where: SENTINEL }, ['DE']],
      { $where: SENTINEL },
      // Property keys become field paths: an operator or a dotted path there is refused before any query.
      ['is', `prop:$${SENTINEL}`, ['x']],
      ['is', `prop:${SENTINEL}.$ne`, ['x']],
    ];
    for (const filter of filters) {
      await request(app.url)
        .post('/api/v1/stats/query')
        .auth(admin, { type: 'bearer' })
        .send({ siteId: site.siteId, metrics: ['visitors'], dateRange: { period: '7d' }, filters: [filter] })
        .expect(400);
    }
    await request(app.url)
      .get('/api/v1/stats/overview')
      .auth(admin, { type: 'bearer' })
      .query({ siteId: site.siteId, period: '7d', filters: JSON.stringify([['is', 'page', [{ $gt: SENTINEL }]]]) })
      .expect(400);
    for (const dimension of [`prop:$${SENTINEL}`, `prop:a.${SENTINEL}`]) {
      await request(app.url)
        .post('/api/v1/stats/query')
        .auth(admin, { type: 'bearer' })
        .send({ siteId: site.siteId, metrics: ['visitors'], dateRange: { period: '7d' }, dimensions: [dimension] })
        .expect(400);
      await request(app.url)
        .get('/api/v1/stats/breakdown')
        .auth(admin, { type: 'bearer' })
        .query({ siteId: site.siteId, period: '7d', dimension })
        .expect(400);
    }
    await request(app.url)
      .post('/api/v1/stats/query')
      .auth(admin, { type: 'bearer' })
      .send({ siteId: { $ne: SENTINEL }, metrics: ['visitors'] })
      .expect(400);
    // A password that is an operator must not match every password.
    await request(app.url)
      .post('/api/v1/auth/login')
      .send({ email: BOOTSTRAP_ADMIN.email, password: { $ne: SENTINEL } })
      .expect(400);
    await request(app.url)
      .post('/api/v1/auth/login')
      .send({ email: { $gt: SENTINEL }, password: 'whatever-password' })
      .expect(400);
  });

  it('refuses operators and dotted or $ keys in hits, and stores no operator as data', async () => {
    const before = await app.database.db.collection('hits').countDocuments();
    const cases: Array<Record<string, unknown>> = [
      keyHit({ url: { $gt: SENTINEL } }),
      keyHit({ eventId: { $ne: SENTINEL } }),
      keyHit({ siteId: { $ne: SENTINEL } }),
      keyHit({ props: { [`${SENTINEL}.b`]: 1 } }),
      keyHit({ props: { [`$${SENTINEL}`]: 'x' } }),
      keyHit({ props: { $set: SENTINEL } }),
      keyHit({ props: { nested: { $gt: SENTINEL } } }),
      { ...keyHit(), $where: SENTINEL },
    ];
    const statuses: number[] = [];
    for (const hit of cases) {
      statuses.push((await request(app.url).post('/api/v1/hits').set('Authorization', site.key).send(hit)).status);
    }
    expect(statuses).toEqual(cases.map(() => 400));
    // Browser sends: an operator as siteId is refused by name (only a string names a site), and
    // no "some site" is picked by a match-all operator.
    const browser = await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://www.allowed.test')
      .send({ siteId: { $ne: SENTINEL }, url: '/x' });
    expect(browser.status).toBe(400);
    expect(browser.body).toMatchObject({ message: 'siteId must be a string' });
    const batch = await request(app.url)
      .post('/api/v1/hits')
      .set('Origin', 'https://www.allowed.test')
      .send({ hits: [{ url: '/a' }, { siteId: { $gt: '' }, url: '/b' }] });
    expect(batch.status).toBe(400);
    expect(batch.body).toMatchObject({ message: 'hits[1].siteId must be a string' });
    const traffic = await request(app.url)
      .post(`/api/v1/traffic?url[$ne]=${SENTINEL}&ip_addr=1.2.3.4`)
      .set('Authorization', site.key);
    expect(traffic.status).toBe(400);

    const hits = await app.database.db.collection('hits').find({}).toArray();
    expect(hits).toHaveLength(before);
    expect(hits.filter(hasOperatorKey)).toEqual([]);
    for (const name of await app.database.db.listCollections().toArray()) {
      const documents = await app.database.db.collection(name.name).find({}).toArray();
      expect(
        documents.filter(hasOperatorKey).map((document) => `${name.name}: ${JSON.stringify(document).slice(0, 200)}`),
      ).toEqual([]);
    }
  });

  it('keeps a read key to its own site whatever siteId says', async () => {
    const { SitesService } = await import('../../src/sites/sites.service.js');
    const readKey = (await app.app.get(SitesService).createKey(site.siteId, ['read'])).key;
    for (const siteId of [other.siteId, other.domain, `{"$ne":"${SENTINEL}"}`]) {
      const response = await request(app.url)
        .get('/api/v1/data/urls')
        .set('Authorization', readKey)
        .query({ siteId, start_date: '2020-01-01', end_date: '2030-01-01' });
      expect(response.status).toBe(403);
      expect(JSON.stringify(response.body)).not.toContain('other-site-secret');
    }
  });

  // Control for the afterEach check: the monitor does see request values in the commands sent.
  it('sees a legitimate hit carrying the sentinel as plain data in the insert command', async () => {
    await request(app.url)
      .post('/api/v1/hits')
      .set('Authorization', site.key)
      .send(keyHit({ url: `/control-${SENTINEL}`, props: { note: SENTINEL } }))
      .expect(202);
    const inserts = allCommands.filter((event) => event.commandName === 'insert' && event.command.insert === 'hits');
    const seen = inserts.flatMap((event) => sentinelValues(event.command, 'insert', []));
    expect(seen).toEqual(expect.arrayContaining(['insert.documents.0.path', 'insert.documents.0.props.note']));
  });
});
