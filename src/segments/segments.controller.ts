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
import { CreateSegmentDto, SegmentDto, UpdateSegmentDto } from './dto/segment.dto.js';
import { SegmentsService } from './segments.service.js';

const ADMIN_ONLY = 'Only admins change segments, as they change sites (viewers and site keys get 403)';
const NOT_FOUND = ApiNotFoundResponse({
  type: ErrorResponseDto,
  description: 'No such site (admins), or no such segment on this site',
});

/**
 * Saved segments of a site. Like the site itself, they are changed by admins and read by anyone
 * who can read the site's stats (its viewers and its read keys). `:id` is the site's id or domain.
 */
@ApiTags('segments')
@Controller('api/v1/sites/:id/segments')
export class SegmentsController {
  constructor(
    private readonly segments: SegmentsService,
    private readonly access: SiteAccessService,
  ) {}

  @Get()
  @AllowSiteKey('read')
  @ApiOperation({ summary: "List a site's saved segments, by name" })
  @ApiJwtOrSiteKeyProtected('read')
  @ApiOkResponse({ type: [SegmentDto] })
  @NOT_FOUND
  async list(@CurrentPrincipal() principal: Principal, @Param('id') siteId: string): Promise<SegmentDto[]> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return (await this.segments.list(site)).map((segment) => SegmentDto.from(segment));
  }

  @Get(':segmentId')
  @AllowSiteKey('read')
  @ApiOperation({ summary: 'Get one saved segment' })
  @ApiJwtOrSiteKeyProtected('read')
  @ApiOkResponse({ type: SegmentDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'segmentId is not an id' })
  @NOT_FOUND
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('segmentId') segmentId: string,
  ): Promise<SegmentDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return SegmentDto.from(await this.segments.get(site, segmentId));
  }

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Save a segment (admin)' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiCreatedResponse({ type: SegmentDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A filter is malformed (the message names it)' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The site has a segment of this name' })
  @NOT_FOUND
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Body() body: CreateSegmentDto,
  ): Promise<SegmentDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return SegmentDto.from(await this.segments.create(site, body));
  }

  @Patch(':segmentId')
  @Roles('admin')
  @ApiOperation({ summary: 'Rename a segment or replace its filters (admin)' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: SegmentDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'segmentId is not an id, or a filter is malformed (the message names it)',
  })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The site has another segment of this name' })
  @NOT_FOUND
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('segmentId') segmentId: string,
    @Body() body: UpdateSegmentDto,
  ): Promise<SegmentDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return SegmentDto.from(await this.segments.update(site, segmentId, body));
  }

  @Delete(':segmentId')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Delete a segment (admin); reads naming it then answer 404' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'segmentId is not an id' })
  @NOT_FOUND
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('segmentId') segmentId: string,
  ): Promise<void> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    await this.segments.delete(site, segmentId);
  }
}
