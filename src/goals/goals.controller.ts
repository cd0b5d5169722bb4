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
import { ApiJwtProtected } from '../auth/decorators/api-protected.decorator.js';
import { CurrentPrincipal } from '../auth/decorators/current-principal.decorator.js';
import { Roles } from '../auth/decorators/roles.decorator.js';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import type { Principal } from '../auth/principal.js';
import { SiteAccessService } from '../auth/site-access.service.js';
import { CreateGoalDto, GoalDto, UpdateGoalDto } from './dto/goal.dto.js';
import { GoalsService } from './goals.service.js';

const ADMIN_ONLY = 'Only admins manage goals (viewers read them; site keys get 403)';
const READERS = 'The account is a viewer the site is not shared with, or a site key was used';

/**
 * A site's goals, under the site's routes: admins create, change and delete them; the site's
 * viewers list and read them. `:id` is the site's id or domain, as for its funnels and segments
 * (SiteAccessService: admins get 404 for a missing site, viewers 403 for any site not theirs).
 */
@ApiTags('goals')
@Controller('api/v1/sites/:id/goals')
export class GoalsController {
  constructor(
    private readonly goals: GoalsService,
    private readonly access: SiteAccessService,
  ) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Create a page or event goal (admin); it counts the past data too' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiCreatedResponse({ type: GoalDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Missing or conflicting fields (the message names them)',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The site has a goal with this name' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Body() body: CreateGoalDto,
  ): Promise<GoalDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return GoalDto.from(await this.goals.create(site.id, body));
  }

  @Get()
  @ApiOperation({ summary: "List a site's goals in creation order (admins; the site's viewers)" })
  @ApiJwtProtected(READERS)
  @ApiOkResponse({ type: [GoalDto] })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site (admins)' })
  async list(@CurrentPrincipal() principal: Principal, @Param('id') siteId: string): Promise<GoalDto[]> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return (await this.goals.listForSite(site.id)).map((goal) => GoalDto.from(goal));
  }

  @Get(':goalId')
  @ApiOperation({ summary: "Get one goal (admins; the site's viewers)" })
  @ApiJwtProtected(READERS)
  @ApiOkResponse({ type: GoalDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'goalId is not an id' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site (admins) or goal' })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('goalId') goalId: string,
  ): Promise<GoalDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return GoalDto.from(await this.goals.get(site, goalId));
  }

  @Patch(':goalId')
  @Roles('admin')
  @ApiOperation({ summary: 'Rename a goal or change its revenue currency (admin); what it matches cannot change' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiOkResponse({ type: GoalDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'goalId is not an id; invalid name or currency' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site or goal' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The site has another goal with this name' })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('goalId') goalId: string,
    @Body() body: UpdateGoalDto,
  ): Promise<GoalDto> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    return GoalDto.from(await this.goals.update(site, goalId, body));
  }

  @Delete(':goalId')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Delete a goal (admin); no hit is touched' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'goalId is not an id' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site or goal' })
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('id') siteId: string,
    @Param('goalId') goalId: string,
  ): Promise<void> {
    const site = await this.access.resolveReadableSite(principal, siteId);
    await this.goals.delete(site, goalId);
  }
}
