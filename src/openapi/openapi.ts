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
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('http://localhost:3000', 'Local development')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, BEARER_AUTH)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'Authorization', description: 'A site key, raw or as `Bearer <key>`' }, SITE_KEY_AUTH)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'A site key in its own header' }, SITE_KEY_HEADER_AUTH)
    .build();
  return SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey: string, methodKey: string) =>
      `${controllerKey.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase())}_${methodKey}`,
  });
}

export function mountOpenApi(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
  return document;
}
