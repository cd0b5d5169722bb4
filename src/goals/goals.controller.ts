import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Patch,
  Post,
} from '@nestjs/common';
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
import { SitesService } from '../sites/sites.service.js';
import { CreateGoalDto, GoalDto, UpdateGoalDto } from './dto/goal.dto.js';
import { GoalsService } from './goals.service.js';

const ADMIN_ONLY = 'Only admins manage goals (viewers read them; site keys get 403)';
const READERS = 'The account is a viewer the site is not shared with, or a site key was used';

/**
 * A site's goals, under the site's routes: admins create, change and delete them; the site's
 * viewers list and read them.
 */
@ApiTags('goals')
@Controller('api/v1/sites/:id/goals')
export class GoalsController {
  constructor(
    private readonly goals: GoalsService,
    private readonly sites: SitesService,
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
  async create(@Param('id') siteId: string, @Body() body: CreateGoalDto): Promise<GoalDto> {
    await this.sites.getStored(siteId);
    return GoalDto.from(await this.goals.create(siteId, body));
  }

  @Get()
  @ApiOperation({ summary: "List a site's goals in creation order (admins; the site's viewers)" })
  @ApiJwtProtected(READERS)
  @ApiOkResponse({ type: [GoalDto] })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site (admins)' })
  async list(@CurrentPrincipal() principal: Principal, @Param('id') siteId: string): Promise<GoalDto[]> {
    await this.assertReadable(principal, siteId);
    return (await this.goals.listForSite(siteId)).map((goal) => GoalDto.from(goal));
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
    await this.assertReadable(principal, siteId);
    return GoalDto.from(await this.goals.get(siteId, goalId));
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
    @Param('id') siteId: string,
    @Param('goalId') goalId: string,
    @Body() body: UpdateGoalDto,
  ): Promise<GoalDto> {
    await this.sites.getStored(siteId);
    return GoalDto.from(await this.goals.update(siteId, goalId, body));
  }

  @Delete(':goalId')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Delete a goal (admin); no hit is touched' })
  @ApiJwtProtected(ADMIN_ONLY)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'goalId is not an id' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such site or goal' })
  async delete(@Param('id') siteId: string, @Param('goalId') goalId: string): Promise<void> {
    await this.sites.getStored(siteId);
    await this.goals.delete(siteId, goalId);
  }

  /**
   * Admins read every site (404 for a missing one); viewers only those shared with them, and get
   * 403 for any other, existing or not, so they cannot probe which sites exist.
   */
  private async assertReadable(principal: Principal, siteId: string): Promise<void> {
    if (principal.kind !== 'user') throw new ForbiddenException('Site keys cannot access this route');
    if (principal.role !== 'admin' && !principal.siteIds.includes(siteId)) {
      throw new ForbiddenException('This account cannot access that site');
    }
    if (!(await this.sites.findById(siteId))) throw new NotFoundException('Site not found');
  }
}
