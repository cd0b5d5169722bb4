import { BadRequestException } from '@nestjs/common';

const OBJECT_ID = /^[0-9a-f]{24}$/i;

/**
 * The id of a site's goal, funnel or segment as a request gives it (path or query). One rule for
 * all of them: what cannot be an id is a 400 naming the parameter (`goalId must be a goal id (24
 * hex characters), got "x"`); an id that names nothing on the site is the caller's 404. MongoDB
 * would take any 12-character string as an id too; only the 24 hex characters we hand out count.
 */
export function requireResourceId(value: string, parameter: string, kind: string): string {
  if (!OBJECT_ID.test(value)) {
    throw new BadRequestException(`${parameter} must be a ${kind} id (24 hex characters), got "${value}"`);
  }
  return value;
}
