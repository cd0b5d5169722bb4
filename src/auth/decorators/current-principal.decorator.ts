import { createParamDecorator, InternalServerErrorException, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../principal.js';
import { principalOf } from '../principal-request.js';

/** The caller the global guard authenticated. Only meaningful on non-public routes. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = principalOf(context.switchToHttp().getRequest());
  if (!principal) throw new InternalServerErrorException('CurrentPrincipal used on a route without authentication');
  return principal;
});
