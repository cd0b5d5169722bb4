/** The paths hits arrive on (POST), for the hooks that treat ingest differently from the rest of the API. */
export const INGEST_ROUTES: ReadonlySet<string> = new Set(['/api/v1/hits', '/api/v1/traffic']);
