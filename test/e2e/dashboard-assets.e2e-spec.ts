import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** The dashboard's files over plain HTTP; the browser suite (test/browser) drives the page itself. */
describe('dashboard files', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });

  afterAll(async () => {
    await app.close();
  });

  it('serves the page at / without credentials, under a policy that forbids inline code and other origins', async () => {
    const response = await fetch(`${app.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toMatch(/unsafe-|https?:/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<style|style=|\son[a-z]+=/i);
  });

  it('serves every file the page references, each with its content type, and nothing from a CDN', async () => {
    const html = await (await fetch(`${app.url}/`)).text();
    const references = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((match) => match[1]);
    expect(references.length).toBeGreaterThanOrEqual(4);
    expect(references.every((reference) => reference.startsWith('/assets/'))).toBe(true);
    for (const reference of references) {
      const response = await fetch(`${app.url}${reference}`);
      expect({ reference, status: response.status }).toEqual({ reference, status: 200 });
      const type = response.headers.get('content-type');
      if (reference.endsWith('.js')) expect(type).toBe('text/javascript; charset=utf-8');
      if (reference.endsWith('.css')) expect(type).toBe('text/css; charset=utf-8');
      if (reference.endsWith('.svg')) expect(type).toBe('image/svg+xml');
    }
  });

  it('serves the modules app.js imports', async () => {
    const appScript = await (await fetch(`${app.url}/assets/app.js`)).text();
    const imports = [...appScript.matchAll(/from '\.\/([\w-]+\.js)'/g)].map((match) => match[1]);
    expect(imports).toEqual(expect.arrayContaining(['api.js', 'render.js', 'visitors-chart.js']));
    for (const name of imports) expect((await fetch(`${app.url}/assets/${name}`)).status).toBe(200);
  });

  it('serves the Chart.js build of the installed npm package', async () => {
    const response = await fetch(`${app.url}/assets/vendor/chart.umd.min.js`);
    expect(response.status).toBe(200);
    const source = await response.text();
    expect(source).toMatch(/Chart\.js v4\.\d+\.\d+/);
    expect(source).not.toContain('sourceMappingURL');
  });

  it('answers unknown files and path tricks with a JSON 404', async () => {
    for (const path of ['/assets/nope.js', '/assets/..%2Fdashboard.module.ts', '/assets/vendor/other.js']) {
      const response = await fetch(`${app.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(((await response.json()) as { statusCode: number }).statusCode).toBe(404);
    }
  });

  it('stays out of the OpenAPI document', async () => {
    const spec = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths).filter((path) => path === '/' || path.startsWith('/assets'))).toEqual([]);
  });
});
