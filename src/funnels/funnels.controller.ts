import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AllowSiteKey } from '../auth/decorators/allow-site-key.decorator.js';
import { ApiJwtOrSiteKeyProtected, ApiJwtProtected } from '../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator.js';
import { Roles } from '../auth/decorators/roles.decorator.js';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import type { Principal } from '../auth/principal.js';
import { SiteAccessService } from '../auth/site-access.service.js';
import { CreateFunnelDto, FunnelDto, UpdateFunnelDto } from './dto/funnel.dto.js';
import { FunnelsService } from './funnels.service.js';

const ADMIN_ONLY = 'Only admins change funnels, as they change goals (viewers and site keys get 403)';
const NOT_FOUND = ApiNotFoundResponse({
  type: ErrorResponseDto,
  description: 'No such site (admins), or no such funnel on this site',
});
const NAME_TAKEN = ApiConflictResponse({ type: ErrorResponseDto, description: 'The site has a funnel of this name' });

/**
 * A site's funnels. Like its goals, they are changed by admins and read by anyone who can read
 * the site's stats (its viewers and its read keys). `:id` is the site's id or domain. Their
 * figures come from GET /api/v1/stats/funnel.
 */
@ApiTags('funnels')
@Controller('api/v1/sites/:id/funnels')
export class FunnelsController {
  constructor(
    private readonly funnels: FunnelsService,
    private readonly access: SiteAccessService,
  ) {}

  @Get()
  @AllowSiteKey('read')
  @ApiOperation({ summary: "List a site's funnels, by name" })
  @ApiJwtOrSiteKeyProtected('read')
  @ApiOkResponse({ type: [FunnelDto] })
  @NOT_FOUND
  async list(@CurrentPrincipal() principal: Principal, @Param('id') siteId: string): Promise<FunnelDto[]> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return (await this.funnels.list(site)).map((funnel) => FunnelDto.from(funnel));
  }

  @Get(':funnelId')
  @AllowSiteKey('read')
  @ApiOperation({ summary: 'Get one funnel with its steps' })
  @ApiJwtOrSiteKeyProtected('read')
  @ApiOkResponse({ type: FunnelDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'funnelId is not an id' })
  @NOT_FOUND
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('funnelId') funnelId: string,
  ): Promise<FunnelDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return FunnelDto.from(await this.funnels.get(site, funnelId));
  }

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: "Create a funnel of 2 to 8 of the site's goals (admin)" })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiCreatedResponse({ type: FunnelDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Fewer than 2 or more than 8 steps, a repeated goal, or an id that is no goal of the site',
  })
  @NOT_FOUND
  @NAME_TAKEN
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Body() body: CreateFunnelDto,
  ): Promise<FunnelDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return FunnelDto.from(await this.funnels.create(site, body));
  }

  @Patch(':funnelId')
  @Roles('admin')
  @ApiOperation({ summary: 'Rename a funnel or replace its steps (admin)' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: FunnelDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description:
      'funnelId is not an id; fewer than 2 or more than 8 steps, a repeated goal, or an id that is no goal of the site',
  })
  @NOT_FOUND
  @NAME_TAKEN
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('funnelId') funnelId: string,
    @Body() body: UpdateFunnelDto,
  ): Promise<FunnelDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return FunnelDto.from(await this.funnels.update(site, funnelId, body));
  }

  @Delete(':funnelId')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Delete a funnel (admin); its goals stay' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'funnelId is not an id' })
  @NOT_FOUND
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('funnelId') funnelId: string,
  ): Promise<void> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    await this.funnels.delete(site, funnelId);
  }
}
