import { Body, Controller, ForbiddenException, Get, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../common/decorators/public.decorator.js';
import { AuthService } from './auth.service.js';
import { ApiJwtProtected } from './decorators/api-protected.decorator.js';
import { CurrentPrincipal } from './decorators/current-principal.decorator.js';
import { LoginDto, MeDto, RefreshTokenDto, TokenPairDto } from './dto/auth.dto.js';
import { ErrorResponseDto } from './dto/error-response.dto.js';
import type { Principal } from './principal.js';

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with email and password; returns an access token and a refresh token' })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Invalid email or password (same answer for both)' })
  @ApiTooManyRequestsResponse({
    type: ErrorResponseDto,
    description: 'Too many failed logins from this IP or for this account; see Retry-After',
  })
  login(@Body() body: LoginDto, @Req() request: FastifyRequest): Promise<TokenPairDto> {
    return this.auth.login(body.email, body.password, request.ip);
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Trade a refresh token for new tokens; the old refresh token stops working (reusing it revokes the session)',
  })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiUnauthorizedResponse({
    type: ErrorResponseDto,
    description: 'Unknown, expired, revoked or already used refresh token',
  })
  refresh(@Body() body: RefreshTokenDto): Promise<TokenPairDto> {
    return this.auth.refresh(body.refreshToken);
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the session a refresh token belongs to (access tokens expire on their own)' })
  @ApiNoContentResponse({ description: 'Signed out (also when the token was unknown)' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'The body has no refresh token' })
  async logout(@Body() body: RefreshTokenDto): Promise<void> {
    await this.auth.logout(body.refreshToken);
  }

  @Get('me')
  @ApiOperation({ summary: 'The signed-in account' })
  @ApiJwtProtected('A site key was used')
  @ApiOkResponse({ type: MeDto })
  me(@CurrentPrincipal() principal: Principal): MeDto {
    if (principal.kind !== 'user') throw new ForbiddenException('Site keys cannot access this route; sign in instead');
    return { id: principal.userId, email: principal.email, role: principal.role, siteIds: principal.siteIds };
  }
}
