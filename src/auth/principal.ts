export const ROLES = ['admin', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export const KEY_SCOPES = ['ingest', 'read'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** Who is calling: a signed-in account (JWT) or a site key. Set on the request by the global guard. */
export type Principal =
  | { kind: 'user'; userId: string; email: string; role: Role; siteIds: string[] }
  | { kind: 'siteKey'; keyId: string; siteId: string; scopes: KeyScope[] };
