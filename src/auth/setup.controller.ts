import { Body, Controller, Get, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../common/decorators/public.decorator.js';
import { TokenPairDto } from './dto/auth.dto.js';
import { ErrorResponseDto } from './dto/error-response.dto.js';
import { SetupDto, SetupStatusDto } from './dto/setup.dto.js';
import { FirstRunService } from './first-run.service.js';

/** First run: creating the first admin with the setup code printed at startup (see FirstRunService). */
@ApiTags('auth')
@Controller('api/v1/setup')
export class SetupController {
  constructor(private readonly firstRun: FirstRunService) {}

  @Public()
  @Get()
  @ApiOperation({ summary: 'Whether Siteline still needs its first admin (no account exists yet)' })
  @ApiOkResponse({ type: SetupStatusDto })
  async status(): Promise<SetupStatusDto> {
    return { needed: await this.firstRun.isSetupNeeded() };
  }

  @Public()
  @Post()
  @ApiOperation({
    summary:
      'Create the first admin with the one-time setup code printed in the server log at startup; signs them in. ' +
      'Works only while no account exists.',
  })
  @ApiCreatedResponse({ type: TokenPairDto, description: 'The admin was created; the tokens are as from login' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A field is missing or invalid (email, password)' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Wrong setup code' })
  @ApiForbiddenResponse({
    type: ErrorResponseDto,
    description: 'This server issued no setup code (an account existed when it started)',
  })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'An account exists already: sign in instead' })
  @ApiTooManyRequestsResponse({
    type: ErrorResponseDto,
    description: 'Too many wrong codes from this IP or for this email; see Retry-After',
  })
  setUp(@Body() body: SetupDto, @Req() request: FastifyRequest): Promise<TokenPairDto> {
    return this.firstRun.setUp(body.setupCode, body.email, body.password, request.ip);
  }
}
