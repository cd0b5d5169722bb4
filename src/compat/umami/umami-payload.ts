/**
 * Umami's collection body (`POST /api/send`: `{ type, payload }`) translated into a
 * `POST /api/v1/hits` item. Umami's names stop here. Only `type: "event"` records anything:
 * a page view without `name`, a custom event with it. Rules follow Umami's own route
 * (src/app/api/send/route.ts): the page is `url` resolved against `hostname`, and its fragment
 * is part of the page path (Umami keeps `#…`; its tracker drops it when told to, with
 * `data-exclude-hash`).
 */

export interface UmamiHit {
  /** The Siteline site the payload names in `website`. */
  website: string;
  /** One `POST /api/v1/hits` item naming that site. */
  hit: Record<string, unknown>;
}

/** `identify` sets Umami session data, which Siteline does not keep: acknowledged, nothing stored. */
export const UMAMI_IGNORED: unique symbol = Symbol('umami-ignored');

/** Umami's payload fields Siteline accepts and does not store (it derives browser, OS and device from the User-Agent). */
export const UMAMI_IGNORED_FIELDS = 'title, language, screen, tag, browser, os, device';

/** Translates one `{ type, payload }`; a string is the 400 message naming what is wrong. */
export function translateUmamiSend(body: unknown): UmamiHit | typeof UMAMI_IGNORED | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be { type, payload }';
  const { type, payload } = body as { type?: unknown; payload?: unknown };
  if (type !== 'event' && type !== 'identify' && type !== 'performance') {
    return 'type must be "event" or "identify"';
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'payload must be an object';
  const fields = payload as Record<string, unknown>;
  if (fields.link !== undefined || fields.pixel !== undefined) {
    return 'payload.link and payload.pixel are not supported: Siteline records websites only';
  }
  if (typeof fields.website !== 'string' || fields.website === '') return 'payload.website is required';
  if (type === 'performance') return 'type "performance" (web vitals) is not supported';
  if (type === 'identify') return UMAMI_IGNORED;

  // Umami records an event sent without `url` (as `@umami/node`'s `track(name, data)` sends it) on
  // an empty path; Siteline's pages are paths, so it is the root page.
  const url = fields.url === undefined || fields.url === '' ? '/' : fields.url;
  if (typeof url !== 'string') return 'payload.url must be a string';
  if (fields.hostname !== undefined && typeof fields.hostname !== 'string') return 'payload.hostname must be a string';
  const hit: Record<string, unknown> = {
    siteId: fields.website,
    url: pageUrl(url, fields.hostname as string | undefined),
    hashMode: true,
  };
  if (typeof fields.referrer === 'string' && fields.referrer !== '') hit.referrer = fields.referrer;
  if (fields.name !== undefined && fields.name !== '') hit.name = fields.name;
  if (fields.data !== undefined && fields.data !== null) {
    const props = propsOf(fields.data);
    if (typeof props === 'string') return props;
    const revenue = revenueOf(props);
    if (revenue && hit.name !== undefined) {
      hit.revenue = revenue;
      delete props.revenue;
      delete props.currency;
    }
    if (Object.keys(props).length > 0) hit.props = props;
  }
  // Umami's distinct id: identifies a signed-in user, as Siteline's userId does (stored as a keyed hash).
  if (fields.id !== undefined && fields.id !== '') hit.userId = fields.id;
  if (fields.userAgent !== undefined) hit.userAgent = fields.userAgent;
  // Refused by the native rules for key-less sends, with a message naming them.
  if (fields.ip !== undefined) hit.ip = fields.ip;
  if (fields.timestamp !== undefined) hit.timestamp = umamiTimestamp(fields.timestamp);
  return { website: fields.website, hit };
}

/** As Umami: `url` (a path or a full URL) resolved against `https://<hostname>`. */
function pageUrl(url: string, hostname: string | undefined): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || !hostname) return url;
  return `https://${hostname}${url.startsWith('/') ? '' : '/'}${url}`;
}

/**
 * Umami's event data → Siteline props: scalars kept, a nested object or array kept as its JSON
 * text (Siteline's props are flat), nulls dropped.
 */
function propsOf(data: unknown): Record<string, string | number | boolean> | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'payload.data must be an object';
  const props: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === null || value === undefined) continue;
    props[key] = typeof value === 'object' ? JSON.stringify(value) : (value as string | number | boolean);
  }
  return props;
}

/**
 * Umami's revenue convention: an event's data carries `revenue` (the amount) and `currency` (ISO
 * 4217). Both present → Siteline's revenue (validated by the native rules); otherwise plain props.
 */
function revenueOf(
  props: Record<string, string | number | boolean>,
): { currency: string; amount: unknown } | undefined {
  const { revenue, currency } = props;
  if (revenue === undefined || typeof currency !== 'string') return undefined;
  return { currency, amount: revenue };
}

/** Umami's `timestamp` is Unix seconds; the native field is ISO 8601. */
function umamiTimestamp(value: unknown): unknown {
  const seconds = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  const date = typeof seconds === 'number' ? new Date(seconds * 1000) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : value;
}
