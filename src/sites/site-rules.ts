import type { SiteView } from './site-view.js';

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

let zones: { canonical: Set<string>; lowerCase: Set<string> } | undefined;

function acceptedByIntl(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * IANA zone names known to this Node's ICU, plus `UTC` (which `supportedValuesOf` leaves out).
 * `supportedValuesOf` lists one name per zone, so ICU's aliases (`Asia/Kolkata`, where the list
 * has `Asia/Calcutta`) are accepted when Intl knows them; a listed name in the wrong case is not.
 */
export function isValidTimezone(value: string): boolean {
  if (!zones) {
    const canonical = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);
    zones = { canonical, lowerCase: new Set([...canonical].map((zone) => zone.toLowerCase())) };
  }
  if (zones.canonical.has(value)) return true;
  return !zones.lowerCase.has(value.toLowerCase()) && acceptedByIntl(value);
}

/**
 * Sites are identified by a bare host name, as Plausible does: `https://Example.com/` is stored
 * as `example.com`. Returns undefined when what is left is not a host name.
 */
export function normalizeDomain(input: string): string | undefined {
  const host = input
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .replace(/\/+$/, '');
  return HOSTNAME.test(host) ? host : undefined;
}

/** `https://App.Example.com/` → `https://app.example.com`; undefined when not an http(s) origin. */
export function normalizeOrigin(input: string): string | undefined {
  try {
    const url = new URL(input.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

const withoutWww = (host: string) => host.replace(/^www\./, '');

/**
 * Whether a browser on `origin` may send hits for `site`: its host is the site's
 * domain with or without `www.` (any scheme or port, so local previews over http work), or the
 * exact origin is listed in `allowedOrigins`.
 */
export function isOriginAllowed(site: SiteView, origin: string): boolean {
  const normalized = normalizeOrigin(origin);
  if (!normalized) return false;
  if (site.allowedOrigins.includes(normalized)) return true;
  return withoutWww(new URL(normalized).hostname) === withoutWww(site.domain);
}
