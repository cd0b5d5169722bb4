import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-jwt';
import { Clock } from '../common/time/clock.js';
import { authConfig, type AuthConfig } from '../config/configuration.js';
import { invalidToken } from './auth-errors.js';
import { extractBearerJwt } from './presented-credentials.js';
import type { Principal } from './principal.js';
import { UsersService } from './users.service.js';

/** What an access token carries besides `iss`/`aud`: the account id and its token version. */
export interface AccessTokenClaims {
  sub: string;
  ver: number;
  iat: number;
  exp: number;
}

function isAccessTokenClaims(payload: unknown): payload is AccessTokenClaims {
  const claims = payload as Partial<AccessTokenClaims> | null;
  return typeof claims?.sub === 'string' && typeof claims.ver === 'number' && typeof claims.exp === 'number';
}

/**
 * passport-jwt verifies the signature with the algorithm pinned to HS256 (so `alg: none` and
 * RS256/HS256 confusion fail), plus `iss` and `aud`. Expiry is checked here against the injected
 * Clock instead, the same clock that stamped `iat`/`exp`, so a pinned test clock signs tokens that
 * stay valid. Every request re-reads the account: a deleted account or a changed password
 * (token version) ends its tokens at once, and role or site changes apply immediately.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(authConfig.KEY) config: AuthConfig,
    private readonly users: UsersService,
    private readonly clock: Clock,
  ) {
    super({
      jwtFromRequest: (request: FastifyRequest) => extractBearerJwt(request.headers) ?? null,
      secretOrKey: config.jwtSecret,
      algorithms: ['HS256'],
      issuer: config.issuer,
      audience: config.audience,
      ignoreExpiration: true,
    });
  }

  async validate(payload: unknown): Promise<Principal> {
    if (!isAccessTokenClaims(payload)) throw invalidToken();
    if (payload.exp * 1000 <= this.clock.now().getTime()) throw invalidToken('Token expired');
    const user = await this.users.findStoredById(payload.sub);
    if (!user || user.tokenVersion !== payload.ver) throw invalidToken();
    return { kind: 'user', userId: user.id, email: user.email, role: user.role, siteIds: user.siteIds };
  }
}
