import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AllowSiteKey } from '../../auth/decorators/allow-site-key.decorator.js';
import { ApiJwtOrSiteKeyProtected } from '../../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../../auth/decorators/current-principal.decorator.js';
import { ErrorResponseDto } from '../../auth/dto/error-response.dto.js';
import type { Principal } from '../../auth/principal.js';
import { ApiVisitsPendingResponse } from '../stats-scope.service.js';
import { FunnelQueryDto, FunnelResponseDto } from './funnel.dto.js';
import { FunnelStatsService } from './funnel-stats.service.js';

/** A funnel's figures (docs/funnels.md): JWT or a `read`-scoped site key, humans by default. */
@ApiTags('stats')
@ApiJwtOrSiteKeyProtected('read')
@AllowSiteKey('read')
@ApiVisitsPendingResponse()
@Controller('api/v1/stats')
export class FunnelStatsController {
  constructor(private readonly funnels: FunnelStatsService) {}

  @Get('funnel')
  @ApiOperation({
    summary:
      "A funnel's visitors per step (in order, within one visit), drop-off and conversion from the first and the previous step",
  })
  @ApiOkResponse({ type: FunnelResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A parameter is malformed (the message names it)' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site (admins), funnel or segment on this site' })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: "A step's goal was deleted (the message names the step)",
  })
  funnel(@CurrentPrincipal() principal: Principal, @Query() params: FunnelQueryDto): Promise<FunnelResponseDto> {
    return this.funnels.funnel(principal, params);
  }
}
