import { SetMetadata } from '@nestjs/common';
import type { Role } from '../principal.js';

export const ROLES_KEY = 'siteline:roles';

/** Restricts a route (or controller) to signed-in accounts with one of these roles; site keys never qualify. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);
