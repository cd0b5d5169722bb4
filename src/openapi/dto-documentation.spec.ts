import { describe, expect, it } from '@jest/globals';
import { DECORATORS } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The OpenAPI document is built from explicit `@ApiProperty` decorators (no Swagger CLI plugin),
 * so a DTO field with only class-validator decorators is accepted by the API yet missing from
 * `openapi/openapi.json`, and the drift test cannot notice: the code and the committed copy omit
 * it alike. This test finds every DTO the controllers can use and requires Swagger metadata on
 * each validated property.
 */

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- class constructors of any shape
type Constructor = Function;

const SRC = dirname(dirname(fileURLToPath(import.meta.url)));

const sourceFiles = (readdirSync(SRC, { recursive: true }) as string[])
  .map((file) => file.split('\\').join('/'))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts') && !file.endsWith('.d.ts'));
/** DTO modules: everything under a `dto/` folder, and `*.dto.ts` anywhere else. */
const dtoFiles = sourceFiles.filter((file) => /(^|\/)dto\/[^/]+\.ts$/.test(file) || file.endsWith('.dto.ts'));
const controllerFiles = sourceFiles.filter((file) => file.endsWith('.controller.ts'));

async function exportedClasses(files: string[]): Promise<Map<Constructor, string>> {
  const classes = new Map<Constructor, string>();
  for (const file of files) {
    const exports = (await import(pathToFileURL(join(SRC, file)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value))) {
        classes.set(value, `${name} (src/${file})`);
      }
    }
  }
  return classes;
}

/** Properties class-validator checks on instances of `type`, its own and inherited. */
function validatedProperties(type: Constructor): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
  return [...new Set(metadata.map((entry) => entry.propertyName).filter((name) => typeof name === 'string'))];
}

/** Properties @nestjs/swagger puts in the schema of `type` (own and inherited, mapped types too). */
function documentedProperties(type: Constructor): Set<string> {
  const prototype = type.prototype as object;
  const names = (Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, prototype) ?? []) as string[];
  return new Set(
    names
      .map((name) => name.replace(/^:/, ''))
      .filter((name) => Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, prototype, name) !== undefined),
  );
}

/** Classes among the handlers' parameter types (`@Body()`, `@Query()`, …) of every controller. */
function controllerParameterTypes(controllers: Iterable<Constructor>): Map<Constructor, string> {
  const types = new Map<Constructor, string>();
  for (const controller of controllers) {
    const prototype = controller.prototype as object;
    for (const method of Object.getOwnPropertyNames(prototype)) {
      if (method === 'constructor') continue;
      const parameters = (Reflect.getMetadata('design:paramtypes', prototype, method) ?? []) as unknown[];
      for (const parameter of parameters) {
        if (typeof parameter === 'function') types.set(parameter, `${parameter.name} (${controller.name}.${method})`);
      }
    }
  }
  return types;
}

describe('DTO documentation', () => {
  it('gives every validated DTO property an @ApiProperty, so the OpenAPI document shows it', async () => {
    const dtos = await exportedClasses(dtoFiles);
    const controllers = await exportedClasses(controllerFiles);
    // Handlers' parameter DTOs count even if they live outside a dto/ folder.
    const parameterTypes = controllerParameterTypes(controllers.keys());
    for (const [type, where] of parameterTypes) if (!dtos.has(type)) dtos.set(type, where);

    const validated = [...dtos].filter(([type]) => validatedProperties(type).length > 0);
    const undocumented = validated.flatMap(([type, where]) => {
      const documented = documentedProperties(type);
      return validatedProperties(type)
        .filter((property) => !documented.has(property))
        .map((property) => `${where}: ${property}`);
    });

    // The sweep must find the request DTOs at all, or it proves nothing.
    expect(dtoFiles).toEqual(expect.arrayContaining(['sites/dto/site.dto.ts', 'common/pagination/page-query.dto.ts']));
    expect([...parameterTypes.keys()].map((type) => type.name)).toEqual(
      expect.arrayContaining(['LoginDto', 'CreateSiteDto', 'BreakdownQueryDto']),
    );
    expect(validated.map(([type]) => type.name)).toEqual(
      expect.arrayContaining(['CreateSiteDto', 'UpdateSiteDto', 'CreateUserDto', 'HitDto', 'StatsQueryBodyDto']),
    );
    expect(undocumented).toEqual([]);
  });
});
