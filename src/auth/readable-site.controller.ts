import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { SiteViewDto } from '../sites/dto/site-view.dto.js';
import { AllowSiteKey } from './decorators/allow-site-key.decorator.js';
import { ApiJwtOrSiteKeyProtected } from './decorators/api-protected.decorator.js';
import { CurrentPrincipal } from './decorators/current-principal.decorator.js';
import { ErrorResponseDto } from './dto/error-response.dto.js';
import type { Principal } from './principal.js';
import { SiteAccessService } from './site-access.service.js';

/**
 * Lives in the auth module (not sites) because it answers an access question; it lets a
 * dashboard or a script holding a read key find out which site it is looking at.
 */
@ApiTags('sites')
@Controller('api/v1/sites')
export class ReadableSiteController {
  constructor(private readonly access: SiteAccessService) {}

  @Get('current')
  @AllowSiteKey('read')
  @ApiOperation({
    summary: 'The site a read request would be about',
    description:
      'Resolves `siteId` (id or domain) the way every read endpoint does; without it, the only site the caller can see.',
  })
  @ApiQuery({
    name: 'siteId',
    required: false,
    type: String,
    description: 'Site id or domain; optional when the caller sees exactly one site',
  })
  @ApiJwtOrSiteKeyProtected('read')
  @ApiOkResponse({ type: SiteViewDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'siteId is required (the caller sees several sites)' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site (admins)' })
  current(@CurrentPrincipal() principal: Principal, @Query('siteId') siteId?: string): Promise<SiteViewDto> {
    return this.access.resolveReadableSite(principal, siteId);
  }
}
