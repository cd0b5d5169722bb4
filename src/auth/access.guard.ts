import { ForbiddenException, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { IS_PUBLIC_KEY } from '../common/decorators/public.decorator.js';
import { SitesService } from '../sites/sites.service.js';
import { invalidToken, missingCredentials } from './auth-errors.js';
import { SITE_KEY_SCOPE_KEY } from './decorators/allow-site-key.decorator.js';
import { ROLES_KEY } from './decorators/roles.decorator.js';
import { extractBearerJwt, extractPresentedKey } from './presented-credentials.js';
import type { KeyScope, Principal, Role } from './principal.js';
import { principalOf, setPrincipal } from './principal-request.js';

/**
 * The global default-deny guard (APP_GUARD). Every route needs a credential unless marked
 * `@Public()`: a JWT (verified by the passport `jwt` strategy) or a site key on routes marked
 * `@AllowSiteKey(scope)`. A valid site key on any other route gets 403, not 401: the caller is
 * known, it just may not do this (and clients should not retry with the same key).
 */
@Injectable()
export class AccessGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly sites: SitesService,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (extractBearerJwt(request.headers)) {
      await super.canActivate(context);
      const principal = principalOf(request);
      if (!principal) throw invalidToken();
      return this.authorizeAccount(principal, this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets));
    }
    const presentedKey = extractPresentedKey(request.headers);
    if (!presentedKey) throw missingCredentials();
    const key = await this.sites.authenticateKey(presentedKey);
    if (!key) throw invalidToken('Invalid or revoked site key');
    setPrincipal(request, { kind: 'siteKey', ...key });
    const scope = this.reflector.getAllAndOverride<KeyScope | undefined>(SITE_KEY_SCOPE_KEY, targets);
    if (!scope) throw new ForbiddenException('Site keys cannot access this route; sign in instead');
    if (!key.scopes.includes(scope)) throw new ForbiddenException(`This site key lacks the ${scope} scope`);
    return true;
  }

  /** passport reports a bad token as an error or a missing user; both are 401 invalid_token. */
  override handleRequest<TUser = Principal>(error: unknown, user: TUser | false): TUser {
    if (error instanceof Error && 'getStatus' in error) throw error;
    if (error || !user) throw invalidToken();
    return user;
  }

  private authorizeAccount(principal: Principal, roles: Role[] | undefined): boolean {
    if (principal.kind !== 'user') throw invalidToken();
    if (roles && !roles.includes(principal.role))
      throw new ForbiddenException(`This route needs the ${roles.join(' or ')} role`);
    return true;
  }
}
