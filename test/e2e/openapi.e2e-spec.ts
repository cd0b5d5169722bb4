import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';

const COMMITTED = 'openapi/openapi.json';

/**
 * `openapi/openapi.json` is the contract internal tools generate clients from. This test fails
 * when the code's document drifts from it; `npm run openapi` (UPDATE_OPENAPI=1) rewrites it.
 */
describe('committed OpenAPI document', () => {
  let app: TestApp;
  let generated: Record<string, unknown>;

  beforeAll(async () => {
    app = await startTestApp();
    generated = (await request(app.url).get('/openapi.json').expect(200)).body as Record<string, unknown>;
    if (process.env.UPDATE_OPENAPI === '1') writeFileSync(COMMITTED, `${JSON.stringify(generated, null, 2)}\n`);
  });

  afterAll(async () => {
    await app.close();
  });

  it('matches what the code generates (run `npm run openapi` after changing a route or DTO)', () => {
    const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as Record<string, unknown>;
    expect(generated).toEqual(committed);
  });

  it('documents the bearer and site-key security schemes', () => {
    const components = generated.components as { securitySchemes: Record<string, { type: string }> };
    expect(components.securitySchemes.bearer.type).toBe('http');
    expect(components.securitySchemes.siteKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization' });
    expect(components.securitySchemes.siteKeyHeader).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Api-Key' });
  });
});
