/**
 * The paths hits arrive on (POST), for the hooks that treat ingest differently from the rest of
 * the API: the native routes and the Plausible (`/api/event`) and Umami (`/api/send`,
 * `/api/batch`) compatible ones.
 */
export const INGEST_ROUTES: ReadonlySet<string> = new Set([
  '/api/v1/hits',
  '/api/v1/traffic',
  '/api/event',
  '/api/send',
  '/api/batch',
]);
