import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

export const BEARER_AUTH = 'bearer';
export const SITE_KEY_AUTH = 'siteKey';
export const SITE_KEY_HEADER_AUTH = 'siteKeyHeader';

/**
 * The OpenAPI document is generated from the controllers and DTOs; `openapi/openapi.json` is
 * its committed copy (regenerate with `npm run openapi`; a test fails when they drift).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Siteline API')
    .setDescription(
      'Self-hosted web analytics: ingest page views and events, read JWT-protected statistics. ' +
        'Errors are JSON `{ statusCode, error, message }`.',
    )
    .setVersion('1.0.0')
    // Relative: the document is served by the instance it describes, wherever that is deployed.
    .addServer('/', 'This Siteline instance')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, BEARER_AUTH)
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'Authorization', description: 'A site key, raw or as `Bearer <key>`' },
      SITE_KEY_AUTH,
    )
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'A site key in its own header' },
      SITE_KEY_HEADER_AUTH,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey: string, methodKey: string) =>
      `${controllerKey.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase())}_${methodKey}`,
  });
  describeSchemaDefaults(document);
  unwrapSingleAllOf(document);
  declarePublicOperations(document);
  return document;
}

/**
 * Generators disagree on what `default` means in a schema: openapi-typescript (and others)
 * treat a property with a default as always present, which would make clients send every
 * defaulted field of a request body. So component schemas state their defaults in the
 * description instead; query parameters, where every generator treats them as optional, keep
 * `default`.
 */
function describeSchemaDefaults(document: OpenAPIObject): void {
  for (const schema of Object.values(document.components?.schemas ?? {})) {
    if (!('properties' in schema) || !schema.properties) continue;
    for (const property of Object.values(schema.properties)) {
      if (!('default' in property) || property.default === undefined) continue;
      const note = `Default: \`${JSON.stringify(property.default)}\`.`;
      property.description = property.description ? `${property.description}. ${note}` : note;
      delete property.default;
    }
  }
}

/** @nestjs/swagger wraps a lone enum reference in `allOf: [$ref]`; a plain `$ref` says the same. */
function unwrapSingleAllOf(document: OpenAPIObject): void {
  for (const schema of Object.values(document.components?.schemas ?? {})) {
    if (!('properties' in schema) || !schema.properties) continue;
    for (const [name, property] of Object.entries(schema.properties)) {
      if ('allOf' in property && property.allOf?.length === 1 && Object.keys(property).length === 1) {
        schema.properties[name] = property.allOf[0];
      }
    }
  }
}

/** Routes with no security requirement are the `@Public()` ones: say so explicitly (`security: []`). */
function declarePublicOperations(document: OpenAPIObject): void {
  for (const path of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const) {
      const operation = path[method];
      if (operation && operation.security === undefined) operation.security = [];
    }
  }
}

export function mountOpenApi(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
  return document;
}
