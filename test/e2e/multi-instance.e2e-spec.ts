import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createKey, createSite } from '../factories/sites.js';
import { splitDataset, type DatasetHit } from '../factories/split-dataset.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';

/**
 * Scale-out (docs/SCALING.md): app instances are stateless, so two of them ingesting halves of a
 * dataset into one database must produce exactly the statistics one instance produces from the
 * whole. Both halves are sent concurrently and interleave within each visitor, so the shared
 * sessionizer work list and leases are exercised, not just the sums.
 */
const DATASET = splitDataset({ start: new Date('2024-03-01T00:00:00Z'), days: 7, visitors: 40, seed: 42 });
const RANGE = { from: '2024-03-01', to: '2024-03-07' };
const DATA_RANGE = { start_date: '2024-3-1', end_date: '2024-03-07' };
// Instances of one deployment share these secrets: the visitor hash must agree across them.
const SHARED_ENV = {
  ...bootstrapAdminEnv,
  JWT_SECRET: 'multi-instance-test-jwt-secret-0123456789abcdef',
  VISITOR_SECRET: 'multi-instance-test-visitor-secret-0123456789ab',
  INGEST_KEY_RATE_LIMIT: '0',
};
const BATCH = 25;

interface Deployment {
  apps: TestApp[];
  readKey: string;
}

async function deploy(instances: number, database?: TestDatabase): Promise<Deployment> {
  const apps: TestApp[] = [];
  for (let index = 0; index < instances; index++) apps.push(await startTestApp({ env: SHARED_ENV, database }));
  const token = (await loginAsBootstrapAdmin(apps[0].url)).accessToken;
  const site = await createSite(apps[0].url, token, { domain: 'scale.example', timezone: 'Europe/Berlin' });
  const ingestKey = (await createKey(apps[0].url, token, site.id, ['ingest'])).key;
  const readKey = (await createKey(apps[0].url, token, site.id, ['read'])).key;
  // Hit i goes to instance i mod N; all instances send at once.
  await Promise.all(
    apps.map(async (app, index) => {
      const share = DATASET.filter((_, position) => position % instances === index);
      for (let start = 0; start < share.length; start += BATCH)
        await send(app, ingestKey, share.slice(start, start + BATCH));
    }),
  );
  return { apps, readKey };
}

async function send(app: TestApp, key: string, hits: DatasetHit[]): Promise<void> {
  const response = await request(app.url).post('/api/v1/hits').set('Authorization', key).send({ hits });
  expect(response.status).toBe(202);
  expect(response.body).toMatchObject({ accepted: hits.length, duplicates: 0, rejected: [] });
}

const QUERIES: Array<[string, Record<string, string>]> = [
  ['/api/v1/stats/overview', { ...RANGE, classification: 'ALL' }],
  ['/api/v1/stats/overview', RANGE],
  ['/api/v1/stats/breakdown', { ...RANGE, dimension: 'country', classification: 'ALL' }],
  ['/api/v1/stats/breakdown', { ...RANGE, dimension: 'entry_page' }],
  ['/api/v1/stats/timeseries', { ...RANGE, interval: 'day', classification: 'ALL' }],
  ...['users', 'views', 'countries', 'cities', 'urls', 'hostnames'].map((name): [string, Record<string, string>] => [
    `/api/v1/data/${name}`,
    DATA_RANGE,
  ]),
];

/** What a user reads from each query; `meta` describes the request and is not compared. */
async function readStats(app: TestApp, readKey: string): Promise<Record<string, unknown>> {
  const answers: Record<string, unknown> = {};
  for (const [path, query] of QUERIES) {
    const response = await request(app.url).get(path).set('Authorization', readKey).query(query);
    expect(response.status).toBe(200);
    const body = response.body as { results?: unknown };
    answers[`${path}?${new URLSearchParams(query).toString()}`] = Array.isArray(body) ? body : (body.results ?? body);
  }
  return answers;
}

describe('two instances on one database give the statistics of one instance', () => {
  let shared: TestDatabase;
  let single: Deployment;
  let pair: Deployment;

  beforeAll(async () => {
    single = await deploy(1);
    shared = await startTestDatabase();
    pair = await deploy(2, shared);
  }, 120_000);

  afterAll(async () => {
    for (const app of [...(single?.apps ?? []), ...(pair?.apps ?? [])]) await app.close();
    await shared?.close();
  });

  it('the dataset is non-trivial: several countries, bots and multi-visit visitors', async () => {
    const stats = await readStats(single.apps[0], single.readKey);
    const countries = stats[`/api/v1/data/countries?${new URLSearchParams(DATA_RANGE).toString()}`] as unknown[];
    expect(countries.length).toBeGreaterThan(3);
    const overview = stats[
      `/api/v1/stats/overview?${new URLSearchParams({ ...RANGE, classification: 'ALL' }).toString()}`
    ] as Record<string, { value: number }>;
    expect(overview.pageviews.value).toBe(DATASET.length);
    expect(overview.visits.value).toBeGreaterThan(40);
  });

  it('every instance of the pair answers exactly what the single instance answers', async () => {
    const expected = await readStats(single.apps[0], single.readKey);
    for (const app of pair.apps) expect(await readStats(app, pair.readKey)).toEqual(expected);
  });
});
