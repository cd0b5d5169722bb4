import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AllowSiteKey } from '../auth/decorators/allow-site-key.decorator.js';
import { ApiJwtOrSiteKeyProtected } from '../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator.js';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import type { Principal } from '../auth/principal.js';
import { AnalyticsService } from './analytics.service.js';
import {
  BreakdownQueryDto,
  ClassifiedSiteQueryDto,
  RangeQueryDto,
  SiteQueryDto,
  TimeseriesQueryDto,
} from './dto/analytics-query.dto.js';
import {
  BreakdownResponseDto,
  OverviewResponseDto,
  QueryResponseDto,
  RealtimeResponseDto,
  TimeseriesResponseDto,
  UserStatsResponseDto,
} from './dto/analytics-response.dto.js';
import { StatsQueryBodyDto } from './dto/query-body.dto.js';
import { ApiVisitsPendingResponse } from './stats-scope.service.js';

const BAD_PARAMETERS = ApiBadRequestResponse({
  type: ErrorResponseDto,
  description: 'A parameter is malformed or out of range (the message names it)',
});

/** Analytics and user stats (docs/api.md): JWT or a `read`-scoped site key, humans by default. */
@ApiTags('stats')
@ApiJwtOrSiteKeyProtected('read')
@AllowSiteKey('read')
@ApiVisitsPendingResponse()
@Controller('api/v1/stats')
export class StatsController {
  constructor(private readonly analytics: AnalyticsService) {}

  @Get('users')
  @ApiOperation({
    summary: 'User statistics: total, active and new human visitors, computed by one aggregation',
  })
  @ApiOkResponse({ type: UserStatsResponseDto })
  @BAD_PARAMETERS
  users(@CurrentPrincipal() principal: Principal, @Query() params: SiteQueryDto): Promise<UserStatsResponseDto> {
    return this.analytics.userStats(principal, params);
  }

  @Get('overview')
  @ApiOperation({ summary: 'Headline metrics of a range with the previous period of equal length for comparison' })
  @ApiOkResponse({ type: OverviewResponseDto })
  @BAD_PARAMETERS
  overview(@CurrentPrincipal() principal: Principal, @Query() params: RangeQueryDto): Promise<OverviewResponseDto> {
    return this.analytics.overview(principal, params);
  }

  @Get('timeseries')
  @ApiOperation({ summary: 'Chosen metrics per hour, day, week or month, every bucket present (zeros filled)' })
  @ApiOkResponse({ type: TimeseriesResponseDto })
  @BAD_PARAMETERS
  timeseries(
    @CurrentPrincipal() principal: Principal,
    @Query() params: TimeseriesQueryDto,
  ): Promise<TimeseriesResponseDto> {
    return this.analytics.timeseries(principal, params);
  }

  @Get('breakdown')
  @ApiOperation({ summary: 'Chosen metrics per value of one dimension, sorted by the first metric' })
  @ApiOkResponse({ type: BreakdownResponseDto })
  @BAD_PARAMETERS
  breakdown(
    @CurrentPrincipal() principal: Principal,
    @Query() params: BreakdownQueryDto,
  ): Promise<BreakdownResponseDto> {
    return this.analytics.breakdown(principal, params);
  }

  @Post('query')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The general query: metrics by dimensions (and time) with filters given as data, sorted and paged',
  })
  @ApiBody({ type: StatsQueryBodyDto })
  @ApiOkResponse({ type: QueryResponseDto })
  @BAD_PARAMETERS
  query(@CurrentPrincipal() principal: Principal, @Body() body: StatsQueryBodyDto): Promise<QueryResponseDto> {
    return this.analytics.query(principal, body);
  }

  @Get('realtime')
  @ApiOperation({ summary: 'Visitors and page views in the last 5 minutes' })
  @ApiOkResponse({ type: RealtimeResponseDto })
  @BAD_PARAMETERS
  realtime(
    @CurrentPrincipal() principal: Principal,
    @Query() params: ClassifiedSiteQueryDto,
  ): Promise<RealtimeResponseDto> {
    return this.analytics.realtime(principal, params);
  }
}
