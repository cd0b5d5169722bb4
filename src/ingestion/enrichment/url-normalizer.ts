export interface PageLocation {
  host: string;
  path: string;
  utmSource: string | null;
  utmMedium: string | null;
  utmCampaign: string | null;
  utmTerm: string | null;
  utmContent: string | null;
}

export interface ReferrerInfo {
  referrer: string | null;
  referrerHost: string | null;
}

const UTM_FIELDS = {
  utm_source: 'utmSource',
  utm_medium: 'utmMedium',
  utm_campaign: 'utmCampaign',
  utm_term: 'utmTerm',
  utm_content: 'utmContent',
} as const;

const UTM_VALUE_MAX = 256;
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Hosts compare without a leading `www.` and case-insensitively, as Plausible and Umami do. */
export function canonicalHost(host: string): string {
  return host.toLowerCase().replace(/^www\./, '');
}

/**
 * Trailing-slash policy: a trailing slash is dropped except on the root (`/about/` and `/about`
 * are one page, `/` stays `/`), because sites rarely serve different content for the two.
 * Percent-encoding is kept as the client sent it (WHATWG URL parsing), the path is case-sensitive.
 */
function normalisePath(pathname: string): string {
  const path = pathname === '' ? '/' : pathname;
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') || '/' : path;
}

/**
 * An absolute URL or a path becomes page host + path; query and fragment are dropped except the
 * five `utm_*` parameters. A bare path takes the site's domain as its host. With `hashMode` (a
 * hash-routed single-page app, where `#/settings` is the page) a non-empty fragment is kept,
 * appended to the path as sent. Returns null when the value is not a URL at all.
 */
export function normalisePageUrl(raw: string, siteDomain: string, hashMode = false): PageLocation | null {
  let url: URL;
  try {
    url = ABSOLUTE.test(raw) ? new URL(raw) : new URL(raw.startsWith('/') ? raw : `/${raw}`, `https://${siteDomain}`);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const location: PageLocation = {
    host: canonicalHost(url.hostname),
    path: normalisePath(url.pathname) + (hashMode && url.hash.length > 1 ? url.hash : ''),
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
  };
  for (const [parameter, field] of Object.entries(UTM_FIELDS)) {
    const value = url.searchParams.get(parameter)?.trim();
    if (value) location[field] = value.slice(0, UTM_VALUE_MAX);
  }
  return location;
}

/**
 * The referrer keeps scheme, host and path (no query: it often carries search terms or tokens).
 * A referrer on the page's own host is navigation inside the site, not a source: both fields
 * are null then. Anything unparseable counts as no referrer.
 */
export function normaliseReferrer(raw: string | undefined, pageHost: string): ReferrerInfo {
  if (!raw || !ABSOLUTE.test(raw)) return { referrer: null, referrerHost: null };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { referrer: null, referrerHost: null };
  }
  const host = canonicalHost(url.hostname);
  if (host === '' || host === pageHost) return { referrer: null, referrerHost: null };
  return { referrer: `${url.protocol}//${url.host.toLowerCase()}${normalisePath(url.pathname)}`, referrerHost: host };
}
