import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AllowSiteKey } from '../auth/decorators/allow-site-key.decorator.js';
import { ApiJwtOrSiteKeyProtected } from '../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator.js';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import type { Principal } from '../auth/principal.js';
import { DataListQueryDto, DataSeriesQueryDto } from './dto/data-query.dto.js';
import { CityRowDto, CountryRowDto, HostnameRowDto, SeriesResponseDto, UrlRowDto } from './dto/data-response.dto.js';
import { DataService } from './data.service.js';
import { ApiVisitsPendingResponse } from './stats-scope.service.js';

const BAD_PARAMETERS = ApiBadRequestResponse({
  type: ErrorResponseDto,
  description:
    'A malformed date, start_date after end_date, a range over 10 years, an unknown classification or paging value (the message names it)',
});

/**
 * The `/api/v1/data/*` endpoints (compatible with site-analytics scripts): all traffic unless
 * `classification` is given; JWT or a `read`-scoped site key. See docs/api.md.
 */
@ApiTags('data (site-analytics)')
@ApiJwtOrSiteKeyProtected('read')
@AllowSiteKey('read')
@ApiVisitsPendingResponse()
@Controller('api/v1/data')
export class DataController {
  constructor(private readonly data: DataService) {}

  @Get('users')
  @ApiOperation({ summary: 'Distinct visitors per day (week, month) and over the whole range' })
  @ApiOkResponse({ type: SeriesResponseDto })
  @BAD_PARAMETERS
  users(@CurrentPrincipal() principal: Principal, @Query() params: DataSeriesQueryDto): Promise<SeriesResponseDto> {
    return this.data.series(principal, 'users', params);
  }

  @Get('views')
  @ApiOperation({ summary: 'Page views per day (week, month) and in total' })
  @ApiOkResponse({ type: SeriesResponseDto })
  @BAD_PARAMETERS
  views(@CurrentPrincipal() principal: Principal, @Query() params: DataSeriesQueryDto): Promise<SeriesResponseDto> {
    return this.data.series(principal, 'views', params);
  }

  @Get('countries')
  @ApiOperation({ summary: 'Visitors and page views per country, by visitors descending' })
  @ApiOkResponse({ type: [CountryRowDto] })
  @BAD_PARAMETERS
  countries(@CurrentPrincipal() principal: Principal, @Query() params: DataListQueryDto): Promise<CountryRowDto[]> {
    return this.data.countries(principal, params);
  }

  @Get('cities')
  @ApiOperation({ summary: 'Visitors and page views per city, by visitors descending' })
  @ApiOkResponse({ type: [CityRowDto] })
  @BAD_PARAMETERS
  cities(@CurrentPrincipal() principal: Principal, @Query() params: DataListQueryDto): Promise<CityRowDto[]> {
    return this.data.cities(principal, params);
  }

  @Get('urls')
  @ApiOperation({ summary: 'Page views and visitors per page path, by page views descending' })
  @ApiOkResponse({ type: [UrlRowDto] })
  @BAD_PARAMETERS
  urls(@CurrentPrincipal() principal: Principal, @Query() params: DataListQueryDto): Promise<UrlRowDto[]> {
    return this.data.urls(principal, params);
  }

  @Get('hostnames')
  @ApiOperation({
    summary: 'Page views and visitors per visitor network domain (reverse DNS), by page views descending',
  })
  @ApiOkResponse({ type: [HostnameRowDto] })
  @BAD_PARAMETERS
  hostnames(@CurrentPrincipal() principal: Principal, @Query() params: DataListQueryDto): Promise<HostnameRowDto[]> {
    return this.data.hostnames(principal, params);
  }
}
