import type { IncomingHttpHeaders } from 'node:http';

/** Every site key starts with this, which is how a Bearer value is told apart from a JWT. */
export const SITE_KEY_PREFIX = 'sk_';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function single(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const trimmed = text?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * The site key a request presents: `X-Api-Key: <key>`, `Authorization: Bearer sk_…`,
 * or `Authorization: <key>` raw as site-analytics scripts send it. A raw Authorization value
 * is always taken as a key (so a garbled one fails authentication instead of being ignored);
 * a Bearer value counts as a key only with the `sk_` prefix, otherwise it is a JWT.
 */
export function extractPresentedKey(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = single(headers['x-api-key']);
  if (apiKey) return apiKey;
  const authorization = single(headers.authorization);
  if (!authorization) return undefined;
  const bearer = BEARER.exec(authorization);
  if (!bearer) return /\s/.test(authorization) ? undefined : authorization;
  return bearer[1].startsWith(SITE_KEY_PREFIX) ? bearer[1] : undefined;
}

/** The JWT in `Authorization: Bearer <jwt>`, or undefined when the header carries a site key or nothing. */
export function extractBearerJwt(headers: IncomingHttpHeaders): string | undefined {
  const authorization = single(headers.authorization);
  const bearer = authorization ? BEARER.exec(authorization) : null;
  if (!bearer || bearer[1].startsWith(SITE_KEY_PREFIX)) return undefined;
  return bearer[1];
}
