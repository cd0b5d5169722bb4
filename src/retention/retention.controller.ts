import { Controller, Delete, NotFoundException, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiJwtProtected } from '../auth/decorators/api-protected.decorator.js';
import { Roles } from '../auth/decorators/roles.decorator.js';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import type { SiteView } from '../sites/site-view.js';
import { SitesService } from '../sites/sites.service.js';
import { DataPurgeService } from './data-purge.service.js';
import { DeletedDataDto, PurgeDataQueryDto, PurgedDataDto } from './dto/deleted-data.dto.js';

const ADMIN_ONLY = 'Only admins delete data (viewers and site keys get 403)';

/** Deleting a site's recorded data: purge before a date, erase one userId (docs/operations.md). */
@ApiTags('data')
@Controller('api/v1/sites')
export class RetentionController {
  constructor(
    private readonly sites: SitesService,
    private readonly purge: DataPurgeService,
  ) {}

  @Delete(':id/data')
  @Roles('admin')
  @ApiOperation({
    summary: 'Purge a site’s data before a date (admin)',
    description:
      'Deletes the raw hits before the start of `before` in the site’s time zone and the visits derived from them.',
  })
  @ApiParam({ name: 'id', description: 'Site id or domain' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: PurgedDataDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: '`before` missing or not a date' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  async purgeBefore(@Param('id') id: string, @Query() query: PurgeDataQueryDto): Promise<PurgedDataDto> {
    const { before, deleted } = await this.purge.purgeSiteBeforeDay(await this.site(id), query.before);
    return { before: before.toISOString(), deleted };
  }

  @Delete(':id/users/:userId')
  @Roles('admin')
  @ApiOperation({
    summary: 'Erase everything recorded for one identified user (admin)',
    description:
      'Deletes the hits sent with this `userId` (found by its keyed hash) and their visits, and reports how many documents went. ' +
      'Hits the person made before signing in carry no userId and cannot be attributed to them.',
  })
  @ApiParam({ name: 'id', description: 'Site id or domain' })
  @ApiParam({ name: 'userId', description: 'The client site’s user id, as sent in hits' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: DeletedDataDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  async eraseUser(@Param('id') id: string, @Param('userId') userId: string): Promise<DeletedDataDto> {
    return { deleted: await this.purge.eraseUser(await this.site(id), userId) };
  }

  private async site(ref: string): Promise<SiteView> {
    const site = await this.sites.findByIdOrDomain(ref);
    if (!site) throw new NotFoundException('Site not found');
    return site;
  }
}
