import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { BEARER_AUTH, SITE_KEY_AUTH, SITE_KEY_HEADER_AUTH } from '../../openapi/openapi.js';
import { ErrorResponseDto } from '../dto/error-response.dto.js';

const unauthorized = ApiUnauthorizedResponse({
  type: ErrorResponseDto,
  description:
    'No credentials (`WWW-Authenticate: Bearer`), or an invalid, expired or revoked token or key ' +
    '(`WWW-Authenticate: Bearer error="invalid_token"`)',
});

/** OpenAPI for a JWT-only route: bearer scheme plus its 401/403 responses. */
export function ApiJwtProtected(
  forbidden = 'The account lacks the role or site access this route needs, or a site key was used',
) {
  return applyDecorators(
    ApiBearerAuth(BEARER_AUTH),
    unauthorized,
    ApiForbiddenResponse({ type: ErrorResponseDto, description: forbidden }),
  );
}

/** OpenAPI for a route that also takes a site key with the given scope. */
export function ApiJwtOrSiteKeyProtected(scope: string) {
  return applyDecorators(
    ApiBearerAuth(BEARER_AUTH),
    ApiSecurity(SITE_KEY_AUTH),
    ApiSecurity(SITE_KEY_HEADER_AUTH),
    unauthorized,
    ApiForbiddenResponse({
      type: ErrorResponseDto,
      description: `The account cannot see the site, or the site key lacks the \`${scope}\` scope or belongs to another site`,
    }),
  );
}
