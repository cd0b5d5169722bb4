import { Body, Controller, HttpCode, Post, UseFilters } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AllowSiteKey } from '../../auth/decorators/allow-site-key.decorator.js';
import { ApiJwtOrSiteKeyProtected } from '../../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../../auth/decorators/current-principal.decorator.js';
import type { Principal } from '../../auth/principal.js';
import { ApiVisitsPendingResponse } from '../stats-scope.service.js';
import { V2ErrorFilter } from './v2-error.filter.js';
import { V2_QUERY_REQUEST_SCHEMA, V2_QUERY_RESPONSE_SCHEMA, V2_ERROR_SCHEMA } from './v2-openapi.js';
import { V2QueryService, type V2QueryResponse } from './v2-query.service.js';

/**
 * `POST /api/v2/query`: Plausible's Stats API v2, for the tools and exporters that speak it. A
 * site key with the `read` scope (as Plausible's API key) or an admin/viewer token.
 */
@ApiTags('plausible-compatible')
@ApiJwtOrSiteKeyProtected('read')
@AllowSiteKey('read')
@ApiVisitsPendingResponse()
@UseFilters(V2ErrorFilter)
@Controller('api/v2')
export class V2QueryController {
  constructor(private readonly v2: V2QueryService) {}

  @Post('query')
  @HttpCode(200)
  @ApiOperation({
    summary: "Plausible's Stats API v2 query, answered by the same engine as POST /api/v1/stats/query",
    description:
      'Request and response as Plausible documents them (site_id is the site domain). What Siteline does not ' +
      'support (matches filters, comparisons, exit rate, …) is a 400 naming it. Errors carry the message under `error`, as Plausible does.',
  })
  @ApiBody({ schema: V2_QUERY_REQUEST_SCHEMA })
  @ApiOkResponse({ schema: V2_QUERY_RESPONSE_SCHEMA })
  @ApiBadRequestResponse({ schema: V2_ERROR_SCHEMA, description: 'The message names what is wrong or unsupported' })
  query(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<V2QueryResponse> {
    return this.v2.query(principal, body);
  }
}
