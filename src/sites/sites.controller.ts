import { Body, Controller, Delete, ForbiddenException, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
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
import { ApiJwtProtected } from '../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator.js';
import { Roles } from '../auth/decorators/roles.decorator.js';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import type { Principal } from '../auth/principal.js';
import { CreateSiteKeyDto, IssuedSiteKeyDto, SiteKeyDto } from './dto/site-key.dto.js';
import { CreateSiteDto, SiteDto, UpdateSiteDto } from './dto/site.dto.js';
import { SitesService } from './sites.service.js';

const ADMIN_ONLY = 'Only admins manage sites and keys (viewers and site keys get 403)';

@ApiTags('sites')
@Controller('api/v1/sites')
export class SitesController {
  constructor(private readonly sites: SitesService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Create a site (admin)' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiCreatedResponse({ type: SiteDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid domain, time zone or origin' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'A site with this domain exists' })
  async create(@Body() body: CreateSiteDto): Promise<SiteDto> {
    return SiteDto.from(await this.sites.create(body));
  }

  @Get()
  @ApiOperation({ summary: 'List the sites the caller can see (admins: all; viewers: their own)' })
  @ApiJwtProtected('A site key was used')
  @ApiOkResponse({ type: [SiteDto] })
  async list(@CurrentPrincipal() principal: Principal): Promise<SiteDto[]> {
    const sites = await this.sites.listStored(this.visibleIds(principal));
    return sites.map((site) => SiteDto.from(site));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one site' })
  @ApiJwtProtected('A viewer asked for a site not shared with the account, or a site key was used')
  @ApiOkResponse({ type: SiteDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site (admins)' })
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<SiteDto> {
    const visible = this.visibleIds(principal);
    if (visible && !visible.includes(id)) throw new ForbiddenException('This account cannot access that site');
    return SiteDto.from(await this.sites.getStored(id));
  }

  @Patch(':id')
  @Roles('admin')
  @ApiOperation({ summary: 'Change a site (admin)' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: SiteDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid domain, time zone or origin' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Another site has this domain' })
  async update(@Param('id') id: string, @Body() body: UpdateSiteDto): Promise<SiteDto> {
    return SiteDto.from(await this.sites.update(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Delete a site and revoke its keys (admin); its stored hits are kept until purged' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  async delete(@Param('id') id: string): Promise<void> {
    await this.sites.delete(id);
  }

  @Post(':id/keys')
  @Roles('admin')
  @ApiOperation({ summary: 'Issue a site key (admin); the key is shown once' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiCreatedResponse({ type: IssuedSiteKeyDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Unknown scope' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  async createKey(@Param('id') id: string, @Body() body: CreateSiteKeyDto): Promise<IssuedSiteKeyDto> {
    return IssuedSiteKeyDto.from(await this.sites.createKey(id, body.scopes ?? ['ingest']));
  }

  @Get(':id/keys')
  @Roles('admin')
  @ApiOperation({ summary: "List a site's keys by prefix (admin); keys themselves are never shown again" })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: [SiteKeyDto] })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  async listKeys(@Param('id') id: string): Promise<SiteKeyDto[]> {
    return (await this.sites.listKeys(id)).map((key) => SiteKeyDto.from(key));
  }

  @Post(':id/keys/:keyId/rotate')
  @Roles('admin')
  @ApiOperation({ summary: 'Replace a key with a new one of the same scopes and revoke the old one (admin)' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiCreatedResponse({ type: IssuedSiteKeyDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site or active key' })
  async rotateKey(@Param('id') id: string, @Param('keyId') keyId: string): Promise<IssuedSiteKeyDto> {
    return IssuedSiteKeyDto.from(await this.sites.rotateKey(id, keyId));
  }

  @Delete(':id/keys/:keyId')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Revoke a key (admin); it stops working at once on this instance, within 30 s on others' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiNoContentResponse({ description: 'Revoked (also when it already was)' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site or key' })
  async revokeKey(@Param('id') id: string, @Param('keyId') keyId: string): Promise<void> {
    await this.sites.revokeKey(id, keyId);
  }

  /** Site ids the caller is limited to, or undefined for admins (who see every site). */
  private visibleIds(principal: Principal): string[] | undefined {
    if (principal.kind !== 'user') throw new ForbiddenException('Site keys cannot access this route');
    return principal.role === 'admin' ? undefined : principal.siteIds;
  }
}
