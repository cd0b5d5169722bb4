import { SetMetadata } from '@nestjs/common';
import type { KeyScope } from '../principal.js';

export const SITE_KEY_SCOPE_KEY = 'siteline:siteKeyScope';

/**
 * Lets a site key carrying `scope` call this route besides JWT users. Without it a valid site key
 * gets 403: keys are for ingest and the read endpoints, never for administration.
 */
export const AllowSiteKey = (scope: KeyScope) => SetMetadata(SITE_KEY_SCOPE_KEY, scope);
