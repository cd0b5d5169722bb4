import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { startTestApp, type TestApp } from '../support/test-app.js';

const SPEC = 'openapi/openapi.json';
const CLIENT = 'test/openapi-client/client.ts';
const GENERATED = 'test/openapi-client/generated/schema.d.ts';

/**
 * The committed spec is enough for an internal tool: types generated from it with
 * openapi-typescript type-check a typed openapi-fetch client with no hand edits, that client
 * works against the real app, and the spec passes Redocly's recommended lint rules.
 */
describe('a client generated from openapi/openapi.json', () => {
  let app: TestApp;

  beforeAll(async () => {
    const types = astToString(await openapiTS(JSON.parse(readFileSync(SPEC, 'utf8'))));
    mkdirSync(dirname(GENERATED), { recursive: true });
    writeFileSync(GENERATED, types);
    app = await startTestApp({ env: { ADMIN_EMAIL: 'tools@siteline.test', ADMIN_PASSWORD: 'internal-tools-pass' } });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('type-checks against the generated types', () => {
    const program = ts.createProgram([CLIENT], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file
        ? `${diagnostic.file.fileName}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
        : '';
      return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
    expect(diagnostics).toEqual([]);
  });

  it('logs in, creates a site, ingests and reads every stats endpoint', async () => {
    // Imported by a computed name so that `npm run typecheck` (before the types are generated)
    // does not follow it; the test above type-checks it against fresh types.
    const clientModule = './client.js';
    const { exerciseEveryStatsEndpoint } = (await import(clientModule)) as {
      exerciseEveryStatsEndpoint(
        baseUrl: string,
        email: string,
        password: string,
      ): Promise<Record<string, unknown> & { statuses: number[] }>;
    };
    const result = await exerciseEveryStatsEndpoint(app.url, 'tools@siteline.test', 'internal-tools-pass');
    expect(result.statuses.every((status) => status === 200)).toBe(true);
    expect(result).toMatchObject({
      accepted: 2,
      usersTotal: 1,
      viewsTotal: 2,
      topCountry: 'US',
      urls: expect.arrayContaining(['/', '/about']),
      totalUsers: 1,
      visitors: 1,
      realtimeVisitors: 0,
    });
    expect(result.timeseriesPoints).toBe(2);
    expect(result.breakdownRows).toBe(2);
    expect(result.queryRows).toBe(1);
  });

  it("passes Redocly's recommended lint rules", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({
      source: readFileSync(SPEC, 'utf8'),
      absoluteRef: join(process.cwd(), SPEC),
      config,
    });
    const spec = JSON.parse(readFileSync(SPEC, 'utf8')) as {
      paths: Record<string, Record<string, { parameters?: unknown[]; requestBody?: unknown }>>;
    };
    const takesNoInput = (pointer: string) => {
      const [, path, method] = /^#\/paths\/([^/]+)\/([a-z]+)\//.exec(pointer) ?? [];
      const operation = path ? spec.paths[path.replace(/~1/g, '/').replace(/~0/g, '~')]?.[method] : undefined;
      return (
        operation !== undefined && (operation.parameters ?? []).length === 0 && operation.requestBody === undefined
      );
    };
    const reported = problems
      .map((problem) => ({ rule: problem.ruleId, where: problem.location[0]?.pointer ?? '', message: problem.message }))
      // An operation without parameters or body (health probes, the tracker script) has no 4xx to document.
      .filter(({ rule, where }) => !(rule === 'operation-4xx-response' && takesNoInput(where)));
    expect(reported).toEqual([]);
  });
});
