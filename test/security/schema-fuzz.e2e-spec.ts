import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createIngestSite, type IngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SOAK = process.env.SOAK === '1';
/** Cases per route; every case is one HTTP request. */
const RUNS_PER_ROUTE = SOAK ? 200 : 12;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
}
interface Operation {
  method: string;
  path: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: SchemaRef }> };
  security?: Array<Record<string, string[]>>;
}
interface SchemaRef {
  $ref?: string;
  oneOf?: SchemaRef[];
  properties?: Record<string, unknown>;
}

/** What an attacker or a broken client sends where a scalar is expected. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\u202e',
    '😀'.repeat(300),
    'x'.repeat(70_000),
    '../../etc/passwd',
    '<script>alert(1)</script>',
    'NaN',
    '-1',
    '1e309',
    '2024-02-30',
    '0x10',
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(
    fc.constantFrom('$ne', '$gt', '$where', '__proto__', 'constructor', 'a.b', 'x'),
    fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
  ),
  fc.constant({ a: { b: { c: { d: [1, { e: 2 }] } } } }),
);

/** Any fuzzed value as text (objects built by fast-check may have no prototype, so no toString). */
function asText(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/** Query values as they can arrive on the wire: plain, repeated (array), or bracketed (object). */
type QueryPart = [string, string];
function queryParts(name: string, value: unknown): QueryPart[] {
  if (Array.isArray(value)) return value.map((item) => [name, asText(item)]);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).map(([key, item]) => [`${name}[${key}]`, asText(item)]);
  return [[name, asText(value)]];
}

describe('security: fuzzing every documented route with hostile values', () => {
  let app: TestApp;
  let document: {
    paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };
  let adminToken: string;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp({
      env: {
        ...bootstrapAdminEnv,
        INGEST_KEY_RATE_LIMIT: '0',
        INGEST_IP_RATE_LIMIT: '0',
        LOGIN_MAX_FAILURES_PER_ACCOUNT: '100000',
        LOGIN_MAX_FAILURES_PER_IP: '100000',
      },
    });
    adminToken = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createIngestSite(app);
    // The running app's own document: always current, whatever the committed copy says.
    document = (await fetch(`${app.url}/openapi.json`).then((response) => response.json())) as typeof document;
  }, 60_000);

  afterAll(async () => {
    await app.close();
  });

  function bodyFields(operation: Operation): string[] {
    const schema = operation.requestBody?.content?.['application/json']?.schema;
    const refs = schema?.oneOf ?? (schema ? [schema] : []);
    return refs.flatMap((ref) => {
      const name = ref.$ref?.split('/').pop();
      return Object.keys((name ? document.components.schemas[name]?.properties : ref.properties) ?? {});
    });
  }

  it('never answers 5xx, never leaks a stack trace, and keeps serving', async () => {
    const operations: Operation[] = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path })),
    );
    // Deleting or rotating real things is not the point: ids in paths are fuzzed, so nothing real matches.
    const failures: string[] = [];
    let sent = 0;
    for (const operation of operations) {
      const fields = bodyFields(operation);
      const params = operation.parameters ?? [];
      const caseArbitrary = fc.record({
        path: fc.array(hostile, { minLength: 1, maxLength: 1 }),
        query: fc.dictionary(
          fc.constantFrom(...params.filter((p) => p.in === 'query').map((p) => p.name), 'extra', '$where'),
          hostile,
          { maxKeys: 4 },
        ),
        body: fc.oneof(
          fc.dictionary(fc.constantFrom(...fields, 'unknownField', '$where', '__proto__'), hostile, { maxKeys: 6 }),
          fc.record({
            hits: fc.array(fc.dictionary(fc.constantFrom(...fields, 'props', 'url'), hostile, { maxKeys: 5 }), {
              maxLength: 3,
            }),
          }),
          hostile,
        ),
        asAdmin: fc.boolean(),
      });
      const before = failures.length;
      const details = await fc.check(
        fc.asyncProperty(caseArbitrary, async (fuzz) => {
          const path = operation.path.replace(/\{[^}]+\}/g, () =>
            encodeURIComponent(asText(fuzz.path[0]).slice(0, 2000)),
          );
          const search = new URLSearchParams(
            Object.entries(fuzz.query).flatMap(([name, value]) => queryParts(name, value)),
          ).toString();
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (operation.security?.some((scheme) => 'siteKey' in scheme) && operation.path.startsWith('/api/v1/hits'))
            headers.authorization = site.key;
          else if (fuzz.asAdmin) headers.authorization = `Bearer ${adminToken}`;
          const hasBody = !['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(operation.method);
          sent++;
          const target = `${operation.method} ${path.slice(0, 200)}?${search.slice(0, 200)}`;
          let response: Response;
          let text: string;
          try {
            response = await fetch(`${app.url}${path}${search ? `?${search}` : ''}`, {
              method: operation.method,
              headers,
              body: hasBody ? (JSON.stringify(fuzz.body) ?? 'null') : undefined,
              signal: AbortSignal.timeout(15_000),
            });
            text = await response.text();
          } catch (error) {
            failures.push(`${target} → no answer: ${String((error as { cause?: unknown }).cause ?? error)}`);
            return false;
          }
          const leaks = /\bat [\w.<>]+ \(|node_modules|\.(ts|js):\d+:\d+|MongoServerError|E11000/.test(text);
          if (response.status >= 500 || leaks) {
            failures.push(`${target} → ${response.status} ${text.slice(0, 200)}`);
            return false;
          }
          return true;
        }),
        { numRuns: RUNS_PER_ROUTE, seed: Number(process.env.FUZZ_SEED ?? 20240601), endOnFailure: true },
      );
      if (details.failed && failures.length === before)
        failures.push(`${operation.method} ${operation.path}: ${String(details.errorInstance)}`);
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(operations.length * RUNS_PER_ROUTE);
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
    process.stdout.write(`[schema-fuzz] routes=${operations.length} requests=${sent}\n`);
  }, 300_000);
});
