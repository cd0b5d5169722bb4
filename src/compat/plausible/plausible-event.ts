/**
 * Plausible's Events API body (`POST /api/event`) translated into `POST /api/v1/hits` items. The
 * Plausible field names stop here: what leaves this file is a Siteline hit. Rules follow
 * Plausible's own request parsing (`Plausible.Ingestion.Request`): long or short keys, props and
 * revenue as an object or a JSON string, props that are not scalars dropped, a comma-separated
 * domain list, `h: 1` for hash routing, and for an `engagement` event `e` (ms) and `sd` (%).
 */

/** Plausible's error answer: field → messages, e.g. `{ "url": ["is required"] }`. */
export type PlausibleErrors = Record<string, string[]>;

export interface PlausibleEvent {
  /** The sites to record the event for (`d`, or the URL's host), `www.` stripped. */
  domains: string[];
  /** One `POST /api/v1/hits` item, without `siteId` (one per domain is added by the caller). */
  hit: Record<string, unknown>;
}

/** Plausible's limit on `u` and `r`. */
const MAX_URL_LENGTH = 2000;
/** Plausible keeps the first 30 props, as Siteline allows. */
const MAX_PROPS = 30;
/** Plausible ignores engagement times from this (old trackers sent absurd values) … */
const TOO_LARGE_ENGAGEMENT_MS = 30 * 24 * 60 * 60 * 1000;
const ENGAGEMENT = 'engagement';

/** Which native field a validation message names → the Plausible key a Plausible client knows. */
export const PLAUSIBLE_FIELD_OF: Record<string, string> = {
  url: 'url',
  referrer: 'referrer',
  name: 'name',
  props: 'props',
  revenue: 'revenue',
  hashMode: 'hashMode',
  engagementMs: 'e',
  scrollDepth: 'sd',
};

export function translatePlausibleEvent(body: unknown): PlausibleEvent | { errors: PlausibleErrors } {
  const request = parseBody(body);
  if (!request) return { errors: { request: ['Unable to parse request body as json'] } };
  const errors: PlausibleErrors = {};
  const fail = (field: string, message: string) => (errors[field] = [...(errors[field] ?? []), message]);

  const rawName = request.n ?? request.name;
  const name = typeof rawName === 'number' && Number.isInteger(rawName) ? String(rawName) : rawName;
  if (name === undefined || name === null || name === '') fail('name', "can't be blank");
  else if (typeof name !== 'string') fail('name', 'is invalid');

  const url = request.u ?? request.url;
  let host: string | undefined;
  if (url === undefined || url === null) fail('url', 'is required');
  else if (typeof url !== 'string' || url.length > MAX_URL_LENGTH) fail('url', 'must be a valid url');
  else if (/^data:/i.test(url)) fail('url', 'scheme is not allowed');
  else host = hostOf(url);

  const domains = domainsOf(request.d ?? request.domain, host);
  if (!domains) fail('domain', "can't be blank");

  const hashMode = request.h ?? request.hashMode;
  if (hashMode !== undefined && hashMode !== null && ![0, 1, true, false].includes(hashMode as number | boolean)) {
    fail('hashMode', 'is invalid');
  }

  const hit: Record<string, unknown> = { url, name };
  const referrer = request.r ?? request.referrer;
  if (typeof referrer === 'string' && referrer !== '') hit.referrer = referrer.slice(0, MAX_URL_LENGTH);
  const props = propsOf(request.m ?? request.meta ?? request.p ?? request.props);
  if (props) hit.props = props;
  const revenue = decodeJson(request.$ ?? request.revenue);
  if (revenue !== undefined && revenue !== null) hit.revenue = revenue;
  if (hashMode === 1 || hashMode === true) hit.hashMode = true;
  // `interactive` / `i` is accepted and not stored: Siteline's bounce rate counts page views only,
  // so no event, interactive or not, ever changes it.

  if (name === ENGAGEMENT) {
    const scrollDepth = scrollDepthOf(request.sd);
    const engagementMs = engagementMsOf(request.e);
    if (scrollDepth === undefined && engagementMs === undefined) {
      fail('event_name', "engagement event requires a valid integer value for at least one of 'sd' or 'e' fields");
    } else if (scrollDepth === undefined) {
      // Plausible stores "unknown"; Siteline records a depth with every engagement. Plausible's
      // trackers always send `sd`.
      fail('sd', 'is required');
    } else {
      hit.scrollDepth = scrollDepth;
      // A missing or unusable `e` is 0, Plausible's own default.
      hit.engagementMs = engagementMs ?? 0;
    }
  }

  if (Object.keys(errors).length > 0) return { errors };
  return { domains: domains!, hit };
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  const parsed = typeof body === 'string' ? decodeJson(body) : body;
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** A JSON string decoded, anything else as it is; an unparseable string is undefined. */
function decodeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname || undefined;
  } catch {
    return undefined;
  }
}

function withoutWww(host: string): string {
  return host.trim().replace(/^www\./, '');
}

/** `d` split on commas (each trimmed, `www.` dropped), else the page's host; undefined when blank. */
function domainsOf(raw: unknown, host: string | undefined): string[] | undefined {
  if (typeof raw === 'string') {
    if (raw.trim() === '') return undefined;
    const domains = [
      ...new Set(
        raw
          .split(',')
          .map(withoutWww)
          .filter((domain) => domain !== ''),
      ),
    ];
    return domains.length > 0 ? domains : undefined;
  }
  return host ? [withoutWww(host)] : undefined;
}

/** Scalar props kept in order (the first 30); nested values, nulls and blank keys or values dropped, as Plausible does. */
function propsOf(raw: unknown): Record<string, string | number | boolean> | undefined {
  const decoded = decodeJson(raw);
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) return undefined;
  const props: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(decoded)) {
    if (Object.keys(props).length === MAX_PROPS) break;
    if (key.trim() === '') continue;
    if (typeof value === 'string' && value.trim() !== '') props[key] = value;
    else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') props[key] = value;
  }
  return Object.keys(props).length > 0 ? props : undefined;
}

/** An integer or an integer string; undefined otherwise. */
function integerOf(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isInteger(raw) ? raw : undefined;
  if (typeof raw === 'string' && /^-?\d+$/.test(raw)) return Number(raw);
  return undefined;
}

/** `sd`: 0–100; above 100 is 100 (as Plausible); anything else is missing. */
function scrollDepthOf(raw: unknown): number | undefined {
  const depth = integerOf(raw);
  if (depth === undefined || depth < 0) return undefined;
  return Math.min(depth, 100);
}

/** `e`: ms ≥ 0 below Plausible's 30-day sanity bound; anything else is missing. */
function engagementMsOf(raw: unknown): number | undefined {
  const ms = integerOf(raw);
  return ms !== undefined && ms >= 0 && ms < TOO_LARGE_ENGAGEMENT_MS ? ms : undefined;
}
