import type { FastifyRequest } from 'fastify';
import type { Principal } from './principal.js';

/** Passport's `request.user` slot carries the Principal, whichever credential produced it. */
type RequestWithPrincipal = FastifyRequest & { user?: Principal };

export function principalOf(request: FastifyRequest): Principal | undefined {
  return (request as RequestWithPrincipal).user;
}

export function setPrincipal(request: FastifyRequest, principal: Principal): void {
  (request as RequestWithPrincipal).user = principal;
}
