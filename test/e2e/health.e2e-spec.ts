import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('health and docs', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers liveness', async () => {
    const response = await request(app.url).get('/health/live').expect(200);
    expect(response.body.status).toBe('ok');
  });

  it('is ready when MongoDB answers a ping', async () => {
    const response = await request(app.url).get('/health/ready').expect(200);
    expect(response.body.info.mongodb.status).toBe('up');
  });

  it('serves the OpenAPI document and Swagger UI', async () => {
    const spec = await request(app.url).get('/openapi.json').expect(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(spec.body.paths['/health/ready']).toBeDefined();
    const ui = await request(app.url).get('/docs').redirects(1).expect(200);
    expect(ui.text).toContain('swagger-ui');
  });

  it('gives a request id on every response and echoes a valid one', async () => {
    const generated = await request(app.url).get('/health/live');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await request(app.url).get('/health/live').set('x-request-id', 'trace-123');
    expect(echoed.headers['x-request-id']).toBe('trace-123');
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const response = await request(app.url).get('/no/such/route').expect(404);
    expect(response.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: expect.stringContaining('/no/such/route'),
    });
  });
});
