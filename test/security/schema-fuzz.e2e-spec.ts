import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createIngestSite, type IngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, BOOTSTRAP_ADMIN, createUser, loginAsBootstrapAdmin } from '../factories/users.js';
import { SitesService } from '../../src/sites/sites.service.js';
import { GoalsService } from '../../src/goals/goals.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SOAK = process.env.SOAK === '1';
/** Cases per route; every case is one HTTP request. */
const RUNS_PER_ROUTE = SOAK ? 200 : 12;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  method: string;
  path: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Array<Record<string, string[]>>;
}
/** The part of OpenAPI's schema object both passes read. */
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  example?: unknown;
  default?: unknown;
  minimum?: number;
  minLength?: number;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface SecurityScheme {
  type: string;
  scheme?: string;
  in?: string;
  name?: string;
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

/* ───────────── Deterministic pass: every parameter × a fixed list of hostile values ───────────── */

/** Properties nested deeper than this (array items do not count as a level) are not mutated. */
const MAX_BODY_DEPTH = 3;
/** The pass sends at most this many mutated requests; beyond it, values are sampled per parameter. */
const MAX_MUTATION_REQUESTS = Number(process.env.FUZZ_MAX_MUTATIONS ?? (SOAK ? 50_000 : 4_000));
/** Sampling never goes below this many values for any parameter. */
const MIN_VALUES_PER_PARAMETER = 3;

/** Where a schema expects one type, the other: a number for a string, a string for a number… */
function wrongTypeFor(schema: Schema): unknown {
  switch (schema.type) {
    case 'integer':
    case 'number':
      return 'not-a-number';
    case 'boolean':
      return 'not-a-boolean';
    case 'array':
      return 'not-an-array';
    case 'object':
      return 'not-an-object';
    default:
      return 12345;
  }
}

interface HostileValue {
  label: string;
  make(schema: Schema): unknown;
}
/** One request per value per parameter; everything else in the request stays valid. */
const HOSTILE_VALUES: readonly HostileValue[] = [
  { label: 'wrong type', make: wrongTypeFor },
  { label: 'object', make: () => ({ nested: { deeper: [1, 'two'] } }) },
  { label: 'array', make: () => ['a', 1] },
  { label: 'null', make: () => null },
  { label: 'empty string', make: () => '' },
  { label: '10,000 chars', make: () => 'x'.repeat(10_000) },
  { label: 'unicode', make: () => 'Ünïcødé 😀👩‍👩‍👧 \u202e中文\u200b' },
  // Parsed, so `__proto__` is an own key that JSON.stringify and the query encoder send.
  { label: '__proto__ object', make: () => JSON.parse('{"__proto__":{"isAdmin":true}}') as unknown },
  { label: '$ne operator', make: () => ({ $ne: 1 }) },
];

/** Which values parameter number `index` gets: all of them, or a rotating window of `count`. */
function valuesFor(index: number, count: number): readonly HostileValue[] {
  if (count >= HOSTILE_VALUES.length) return HOSTILE_VALUES;
  return Array.from({ length: count }, (_, i) => HOSTILE_VALUES[(index * count + i) % HOSTILE_VALUES.length]);
}

type BodyPath = Array<string | number>;
interface Target {
  in: 'path' | 'query' | 'header' | 'body';
  /** Parameter or header name, or the body property's path (`hits[0].url`). */
  name: string;
  at: BodyPath;
  schema: Schema;
}

function formatPath(at: BodyPath): string {
  return at.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}

/** A clone of `body` with `value` at `at`, creating the containers on the way. */
function setAt(body: unknown, at: BodyPath, value: unknown): unknown {
  const root = structuredClone(body ?? {}) as Record<string | number, unknown>;
  let node = root;
  at.forEach((key, i) => {
    if (i === at.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = typeof at[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
  return root;
}

/** Query string as hostile clients write it: repeated keys for arrays, brackets for objects, a bare key for null. */
function queryString(query: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (key: string, value: unknown): void => {
    if (value === null) parts.push(encodeURIComponent(key));
    else if (Array.isArray(value)) for (const item of value) add(key, item);
    else if (typeof value === 'object') for (const [sub, item] of Object.entries(value)) add(`${key}[${sub}]`, item);
    else parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  };
  for (const [key, value] of Object.entries(query)) add(key, value);
  return parts.join('&');
}

/** A header carries bytes: UTF-8 goes on the wire raw (as latin1 code units), CR/LF/NUL cannot. */
function headerText(value: unknown): string {
  return Buffer.from(asText(value), 'utf8')
    .toString('latin1')
    .replace(/[\0\r\n]/g, '');
}

/** A stack frame, a source position or a path on this machine in a response body. */
const INTERNALS = /\bat [\w.<>$]+ \(|\n\s+at |node_modules|\.(?:ts|js|mjs):\d+|MongoServerError|E11000|dist\/src/;

/** Why a response breaks the contract, or undefined when it keeps it. */
function contractBreach(status: number, contentType: string, text: string): string | undefined {
  if (status >= 500) return `answered ${status}`;
  if (INTERNALS.test(text) || text.includes(process.cwd())) return 'body leaks internals';
  if (status < 400) return undefined;
  if (!contentType.includes('application/json')) return `${status} without a JSON body (${contentType || 'none'})`;
  let body: { statusCode?: unknown; message?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return `${status} with a body that is not JSON`;
  }
  if (typeof body?.message !== 'string' || body.message === '') return `${status} JSON error without a message`;
  if (body.statusCode !== status) return `${status} JSON error whose statusCode is ${String(body.statusCode)}`;
  return undefined;
}

interface Seeds {
  siteId: string;
  siteKey: string;
  keyId: string;
  userId: string;
  goalId: string;
  refreshToken: string;
  /** A saved segment and a funnel of two of the site's goals (for the routes that name one). */
  segmentId: string;
  funnelGoalIds: string[];
  funnelId: string;
}

/** A request before it is put on the wire: path values, query, headers and JSON body as values. */
interface PlainRequest {
  method: string;
  path: string;
  pathParams: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  body?: unknown;
}

describe('security: fuzzing every documented route with hostile values', () => {
  let app: TestApp;
  let document: {
    paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>;
    components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, SecurityScheme> };
  };
  let adminToken: string;
  let site: IngestSite;

  beforeAll(async () => {
    app = await startTestApp({
      env: {
        ...bootstrapAdminEnv,
        // FUZZ_LOG_LEVEL=error prints the server-side stack of any 5xx the fuzzing finds.
        LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'silent',
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

  /** A schema with `$ref` and a lone `allOf` wrapper (how Nest documents an enum property) resolved. */
  function resolve(schema: Schema | undefined, seen = 0): Schema {
    if (!schema || seen > 10) return {};
    if (schema.$ref) return resolve(document.components.schemas[schema.$ref.split('/').pop()!], seen + 1);
    if (schema.allOf?.length === 1) {
      const { allOf, ...rest } = schema;
      return { ...resolve(allOf[0], seen + 1), ...rest };
    }
    return schema;
  }

  /** Every property under `schema`, through `$ref`, `items` and `additionalProperties`, to MAX_BODY_DEPTH levels. */
  function bodyTargets(raw: Schema, at: BodyPath, depth: number): Target[] {
    const schema = resolve(raw);
    const found: Target[] = [];
    const add = (child: Schema, path: BodyPath, nextDepth: number) => {
      found.push({ in: 'body', name: formatPath(path), at: path, schema: resolve(child) });
      if (path.length < 8) found.push(...bodyTargets(child, path, nextDepth));
    };
    if (depth < MAX_BODY_DEPTH)
      for (const [name, property] of Object.entries(schema.properties ?? {})) add(property, [...at, name], depth + 1);
    if (schema.items && at.length > 0) add(schema.items, [...at, 0], depth);
    if (typeof schema.additionalProperties === 'object' && depth < MAX_BODY_DEPTH) {
      const key = Object.keys((schema.example as object | undefined) ?? {})[0] ?? 'key';
      found.push({
        in: 'body',
        name: formatPath([...at, key]),
        at: [...at, key],
        schema: resolve(schema.additionalProperties),
      });
    }
    return found;
  }

  /** A valid value from the document: its example, first enum value, default, or one built from its type. */
  function sample(raw: Schema | undefined): unknown {
    const schema = resolve(raw);
    if (schema.example !== undefined) return structuredClone(schema.example);
    if (schema.enum?.length) return schema.enum[0];
    if (schema.default !== undefined) return schema.default;
    if (schema.properties)
      return Object.fromEntries(Object.entries(schema.properties).map(([name, property]) => [name, sample(property)]));
    if (schema.items) return [sample(schema.items)];
    if (schema.type === 'integer' || schema.type === 'number') return schema.minimum ?? 1;
    if (schema.type === 'boolean') return false;
    if (schema.type === 'object') return {};
    return 'fuzz-baseline-value'.padEnd(schema.minLength ?? 0, '-');
  }

  let unique = 0;
  /**
   * Where the document's examples are not valid here: ids of the seeded site and user, values that
   * must be unique or recent, and the admin's own credentials for login. Applied at any depth.
   */
  function baselineFixes(operation: Operation, seeds: Seeds): Record<string, () => unknown> {
    const login = operation.path === '/api/v1/auth/login';
    return {
      siteId: () => seeds.siteId,
      // POST /api/v2/query's Plausible name for it (a domain there; the site id is accepted too).
      site_id: () => seeds.siteId,
      siteIds: () => [seeds.siteId],
      refreshToken: () => seeds.refreshToken,
      timestamp: () => new Date().toISOString(),
      eventId: () => `fuzz-event-${++unique}`,
      domain: () => `fuzz-${++unique}.example.com`,
      email: () => (login ? BOOTSTRAP_ADMIN.email : `fuzz-${++unique}@siteline.test`),
      password: () => (login ? BOOTSTRAP_ADMIN.password : 'a long passphrase'),
      // The document's example names a period and a range, which exclude each other.
      dateRange: () => ({ from: '2024-03-01', to: '2024-03-31' }),
      // The examples describe every kind of hit at once; the baseline is a plain page view, since
      // engagement figures belong to engagement hits only (mutations still send each one).
      engagementMs: () => undefined,
      scrollDepth: () => undefined,
      revenue: () => undefined,
      // Umami's name for the site id.
      website: () => seeds.siteId,
      segment: () => seeds.segmentId,
      funnelId: () => seeds.funnelId,
      goalIds: () => seeds.funnelGoalIds,
      // Segment and funnel names are unique per site.
      ...(/\/(segments|funnels)\b/.test(operation.path) ? { name: () => `fuzz-${++unique}` } : {}),
      // A goal's example names both kinds, which exclude each other: the baseline is an event
      // goal, and goal names are unique per site.
      ...(/\/goals\b/.test(operation.path)
        ? { pagePath: () => undefined, displayName: () => `Fuzz goal ${++unique}` }
        : {}),
    };
  }

  function applyFixes(value: unknown, fixes: Record<string, () => unknown>): unknown {
    if (Array.isArray(value)) return value.map((item) => applyFixes(item, fixes));
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, key in fixes ? fixes[key]() : applyFixes(item, fixes)]),
    );
  }

  /** Headers that carry credentials on this operation, from its security requirements. */
  function credentialHeaders(operation: Operation): Array<{ name: string; bearer: boolean }> {
    const schemes = document.components.securitySchemes ?? {};
    const headers = new Map<string, boolean>();
    for (const requirement of operation.security ?? [])
      for (const name of Object.keys(requirement)) {
        const scheme = schemes[name];
        if (scheme?.type === 'http' && scheme.scheme === 'bearer') headers.set('authorization', true);
        else if (scheme?.type === 'apiKey' && scheme.in === 'header' && scheme.name)
          headers.set(scheme.name.toLowerCase(), headers.get(scheme.name.toLowerCase()) ?? false);
      }
    return [...headers].map(([name, bearer]) => ({ name, bearer }));
  }

  /** The body shapes an operation accepts: one per `oneOf` branch. */
  function bodyVariants(operation: Operation): Array<{ label: string; schema: Schema }> {
    const schema = operation.requestBody?.content?.['application/json']?.schema;
    if (!schema) return [];
    return (schema.oneOf ?? [schema]).map((branch) => ({
      label: branch.$ref?.split('/').pop() ?? 'body',
      schema: branch,
    }));
  }

  /** A request the app accepts (checked before the mutations), built from the document and the seeds. */
  function baselineRequest(
    operation: Operation,
    seeds: Seeds,
    adminToken: string,
    variant?: { schema: Schema },
  ): PlainRequest {
    const fixes = baselineFixes(operation, seeds);
    const pathParams: Record<string, unknown> = {};
    const query: Record<string, unknown> = {};
    const headers: Record<string, unknown> = {};
    for (const parameter of operation.parameters ?? []) {
      if (parameter.in === 'path') {
        const isUser =
          parameter.name === 'userId' || (parameter.name === 'id' && operation.path.startsWith('/api/v1/users'));
        const seeded: Record<string, string> = {
          keyId: seeds.keyId,
          goalId: seeds.goalId,
          segmentId: seeds.segmentId,
          funnelId: seeds.funnelId,
        };
        pathParams[parameter.name] = seeded[parameter.name] ?? (isUser ? seeds.userId : seeds.siteId);
      } else if (parameter.required || parameter.name in fixes || resolve(parameter.schema).example !== undefined) {
        const value = parameter.name in fixes ? fixes[parameter.name]() : sample(parameter.schema);
        (parameter.in === 'query' ? query : headers)[parameter.name] = value;
      }
    }
    const credentials = credentialHeaders(operation);
    if (credentials.some((header) => header.bearer)) headers.authorization = `Bearer ${adminToken}`;
    else if (credentials.length > 0) headers[credentials[0].name] = seeds.siteKey;
    return {
      method: operation.method,
      path: operation.path,
      pathParams,
      query,
      headers,
      body: variant ? applyFixes(sample(variant.schema), fixes) : undefined,
    };
  }

  /** The same request with one value replaced. */
  function mutate(request: PlainRequest, operation: Operation, target: Target, value: unknown): PlainRequest {
    const copy = { ...request, pathParams: { ...request.pathParams }, query: { ...request.query } };
    if (target.in === 'path') copy.pathParams[target.name] = value;
    else if (target.in === 'query') copy.query[target.name] = value;
    else if (target.in === 'body') copy.body = setAt(request.body, target.at, value);
    else {
      const bearer = credentialHeaders(operation).find((header) => header.name === target.name)?.bearer;
      const wrap = (item: unknown) => (bearer ? `Bearer ${asText(item)}` : item);
      copy.headers = { ...request.headers, [target.name]: Array.isArray(value) ? value.map(wrap) : wrap(value) };
    }
    return copy;
  }

  interface Exchange {
    url: string;
    status: number;
    contentType: string;
    text: string;
  }
  async function send(request: PlainRequest): Promise<Exchange> {
    const path = request.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = request.pathParams[name];
      return encodeURIComponent(Array.isArray(value) ? value.map(asText).join(',') : asText(value));
    });
    const search = queryString(request.query);
    const url = `${path}${search ? `?${search}` : ''}`;
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers))
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, headerText(item));
    if (request.body !== undefined) headers.set('content-type', 'application/json');
    const response = await fetch(`${app.url}${url}`, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    return { url, status: response.status, contentType: response.headers.get('content-type') ?? '', text };
  }

  /** How a failing request is reported: enough to send it again by hand. */
  function describeRequest(request: PlainRequest, url: string, mutation: string): string {
    const headers = Object.entries(request.headers)
      .map(([name, value]) => `${name}: ${asText(value).slice(0, 80)}`)
      .join(' | ');
    const body = request.body === undefined ? '' : ` body=${JSON.stringify(request.body).slice(0, 300)}`;
    return `${request.method} ${url.slice(0, 300)} [${mutation}] headers={${headers}}${body}`;
  }

  it('mutates every documented parameter and body property in turn with each hostile value', async () => {
    const started = performance.now();
    const token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    const sites = app.app.get(SitesService);
    const createSeeds = async (withUser: boolean, withRefreshToken: boolean): Promise<Seeds> => {
      const own = await createIngestSite(app, { scopes: ['ingest', 'read'] });
      const [key] = await sites.listKeys(own.siteId);
      const post = async (path: string, body: object) =>
        (
          (await (
            await fetch(`${app.url}/api/v1/sites/${own.siteId}/${path}`, {
              method: 'POST',
              headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
              body: JSON.stringify(body),
            })
          ).json()) as { id: string }
        ).id;
      const goals = app.app.get(GoalsService);
      const goalId = (await goals.create(own.siteId, { eventName: 'Seeded goal' })).id;
      const funnelGoalIds = [goalId, (await goals.create(own.siteId, { pagePath: '/pricing' })).id];
      return {
        segmentId: await post('segments', { name: 'Seeded', filters: [['is', 'country', ['DE']]] }),
        funnelGoalIds,
        funnelId: await post('funnels', { name: 'Seeded', goalIds: funnelGoalIds }),
        siteId: own.siteId,
        siteKey: own.key,
        keyId: key.id,
        userId: withUser ? (await createUser(app.url, token, { siteIds: [own.siteId] })).id : '',
        goalId,
        refreshToken: withRefreshToken ? (await loginAsBootstrapAdmin(app.url)).refreshToken : '',
      };
    };
    const shared = await createSeeds(false, false);
    // Operations on one site, key or user get their own, so deleting or rotating it harms no other;
    // refresh and logout get a refresh token of their own.
    const seedsFor = (operation: Operation): Promise<Seeds> => {
      const onOne = operation.path.includes('{');
      const refresh = bodyVariants(operation).some((v) => 'refreshToken' in (resolve(v.schema).properties ?? {}));
      return onOne || refresh
        ? createSeeds(onOne && /\/users\b/.test(operation.path), refresh)
        : Promise.resolve(shared);
    };

    const operations: Operation[] = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ ...operation, method: method.toUpperCase(), path })),
    );
    // Every target of every operation, with the body variant it belongs to.
    const plan = operations.map((operation) => {
      const variants = bodyVariants(operation);
      const plain: Target[] = [
        ...(operation.parameters ?? []).map((p) => ({
          in: p.in,
          name: p.name,
          at: [p.name],
          schema: resolve(p.schema),
        })),
        ...credentialHeaders(operation)
          .filter(
            (header) =>
              !(operation.parameters ?? []).some((p) => p.in === 'header' && p.name.toLowerCase() === header.name),
          )
          .map((header) => ({
            in: 'header' as const,
            name: header.name,
            at: [header.name],
            schema: { type: 'string' },
          })),
      ];
      const groups = [
        { variant: variants[0], targets: plain },
        ...variants.map((variant) => ({ variant, targets: bodyTargets(variant.schema, [], 0) })),
      ];
      return { operation, groups };
    });
    const targetCount = plan.reduce((sum, { groups }) => sum + groups.reduce((n, g) => n + g.targets.length, 0), 0);
    const perTarget = Math.max(
      MIN_VALUES_PER_PARAMETER,
      Math.min(HOSTILE_VALUES.length, Math.floor(MAX_MUTATION_REQUESTS / Math.max(1, targetCount))),
    );

    const failures: string[] = [];
    const exercised = new Map<string, number>();
    const byLocation: Record<Target['in'], number> = { path: 0, query: 0, header: 0, body: 0 };
    let nested = 0;
    let requests = 0;
    let liveChecks = 0;
    let baselines = 0;
    let targetIndex = 0;
    const statuses = new Map<number, number>();
    for (const { operation, groups } of plan) {
      const label = `${operation.method} ${operation.path}`;
      // The unmutated request must be accepted, or the mutations would only ever meet the first check that fails.
      for (const variant of groups.length > 1 ? groups.slice(1).map((g) => g.variant) : [undefined]) {
        const request = baselineRequest(operation, await seedsFor(operation), token, variant);
        const answer = await send(request);
        baselines++;
        // The first-run route closes once an account exists (409), as it does in this app: its
        // mutations are still checked, and they must meet validation or that 409, never a 5xx.
        const closedSetup = operation.path === '/api/v1/setup' && answer.status === 409;
        if (answer.status >= 400 && !closedSetup)
          failures.push(
            `baseline ${describeRequest(request, answer.url, variant?.label ?? 'no body')} → ${answer.status} ${answer.text.slice(0, 200)}`,
          );
      }
      const seeds = await seedsFor(operation);
      for (const { variant, targets } of groups)
        for (const target of targets) {
          const key = `${label} ${target.in}${variant && target.in === 'body' ? `(${variant.label})` : ''} ${target.name}`;
          byLocation[target.in]++;
          // Reached through `items`, `properties` or `$ref` below the top level of the body.
          if (target.in === 'body' && target.at.length > 1) nested++;
          for (const hostile of valuesFor(targetIndex++, perTarget)) {
            const request = mutate(
              baselineRequest(operation, seeds, token, variant),
              operation,
              target,
              hostile.make(target.schema),
            );
            const mutation = `${target.in} ${target.name} = ${hostile.label}`;
            requests++;
            exercised.set(key, (exercised.get(key) ?? 0) + 1);
            try {
              const answer = await send(request);
              statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
              const breach = contractBreach(answer.status, answer.contentType, answer.text);
              if (breach)
                failures.push(
                  `${describeRequest(request, answer.url, mutation)} → ${breach}: ${answer.text.slice(0, 200)}`,
                );
            } catch (error) {
              failures.push(
                `${describeRequest(request, '', mutation)} → no answer: ${String((error as { cause?: unknown }).cause ?? error)}`,
              );
            }
          }
          // The process is still up and serving after every parameter's batch.
          liveChecks++;
          const live = await fetch(`${app.url}/health/live`, { signal: AbortSignal.timeout(5_000) }).catch(
            () => undefined,
          );
          if (live?.status !== 200) failures.push(`/health/live answered ${live?.status ?? 'nothing'} after ${key}`);
        }
    }
    const seconds = (performance.now() - started) / 1000;
    const withTargets = plan.filter(({ groups }) => groups.some((g) => g.targets.length > 0)).length;
    process.stdout.write(
      `[schema-fuzz:mutations] operations=${operations.length} (${withTargets} with parameters) ` +
        `parameters=${targetCount} (path ${byLocation.path}, query ${byLocation.query}, header ${byLocation.header}, ` +
        `body ${byLocation.body} of which ${nested} nested) values=${HOSTILE_VALUES.length} (${perTarget} per parameter) ` +
        `requests=${requests} (+${baselines} baselines, +${liveChecks} liveness checks) ` +
        `statuses=${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))} ` +
        `failures=${failures.length} time=${seconds.toFixed(1)}s\n`,
    );
    expect(failures).toEqual([]);
    expect(exercised.size).toBe(targetCount);
    expect(Math.min(...exercised.values())).toBeGreaterThanOrEqual(MIN_VALUES_PER_PARAMETER);
    expect(requests).toBe(targetCount * perTarget);
  }, 300_000);
});
