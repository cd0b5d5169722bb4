/* global fetch, window */
// The only module that knows the JSON API: paths, tokens, and the shapes of the answers.
// Everything else works with the plain objects returned here.
import { clearSession, getSession, saveTokens } from './session.js';

const BASE = '/api/v1';
/** Refresh this long before the access token expires, so requests never carry a stale token. */
const REFRESH_MARGIN_MS = 30_000;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const signedOutListeners = new Set();
/** Called when the session ends without the user asking (refresh token expired or revoked). */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

let refreshing = null;

/**
 * One refresh at a time: refresh tokens rotate and reusing one revokes the whole family, so
 * concurrent requests that all see an expired token must share a single refresh call.
 */
function refreshTokens() {
  refreshing ??= (async () => {
    const refreshToken = getSession()?.refreshToken;
    if (!refreshToken) throw new ApiError(401, 'Not signed in');
    const tokens = await send('POST', '/auth/refresh', { body: { refreshToken }, auth: false });
    saveTokens(tokens);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function endSession() {
  const hadSession = getSession() !== null;
  clearSession();
  if (hadSession) for (const listener of signedOutListeners) listener();
}

async function send(method, path, { body, params, auth = true } = {}) {
  const url = new URL(BASE + path, window.location.origin);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth) headers.Authorization = `Bearer ${getSession()?.accessToken ?? ''}`;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  const payload = text ? safeJson(text) : null;
  if (!response.ok) {
    const message = payload && typeof payload.message === 'string' ? payload.message : response.statusText;
    throw new ApiError(response.status, message || `Request failed (${response.status})`);
  }
  return payload;
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** An authenticated call: refreshes ahead of expiry, and once more on a 401. */
async function authed(method, path, options = {}) {
  const session = getSession();
  if (!session) throw new ApiError(401, 'Not signed in');
  try {
    if (session.expiresAt - Date.now() < REFRESH_MARGIN_MS && session.refreshToken) await refreshTokens();
    return await send(method, path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    try {
      await refreshTokens();
    } catch {
      endSession();
      throw error;
    }
    try {
      return await send(method, path, options);
    } catch (retryError) {
      if (retryError instanceof ApiError && retryError.status === 401) endSession();
      throw retryError;
    }
  }
}

export function hasSession() {
  return getSession() !== null;
}

export async function login(email, password) {
  const tokens = await send('POST', '/auth/login', { body: { email, password }, auth: false });
  saveTokens(tokens);
}

/** @returns {Promise<boolean>} whether Siteline still has no account (first run) */
export async function isSetupNeeded() {
  const status = await send('GET', '/setup', { auth: false });
  return status?.needed === true;
}

/** Creates the first admin with the setup code from the server's log, and signs in as them. */
export async function setUp(setupCode, email, password) {
  const tokens = await send('POST', '/setup', { body: { setupCode, email, password }, auth: false });
  saveTokens(tokens);
}

/** @returns {Promise<{ id: string, domain: string, name: string, timezone: string }>} */
export async function createSite(domain, name, timezone) {
  const site = await authed('POST', '/sites', { body: { domain, name, timezone } });
  return { id: site.id, domain: site.domain, name: site.name || site.domain, timezone: site.timezone };
}

export async function logout() {
  const refreshToken = getSession()?.refreshToken;
  try {
    // Logout needs only the refresh token, so an expired access token is no reason to refresh first.
    if (refreshToken) await send('POST', '/auth/logout', { body: { refreshToken }, auth: false });
  } finally {
    clearSession();
  }
}

/** @returns {Promise<{ email: string, role: string }>} */
export async function fetchMe() {
  const me = await authed('GET', '/auth/me');
  return { email: me.email, role: me.role };
}

/** @returns {Promise<Array<{ id: string, domain: string, name: string, timezone: string }>>} */
export async function listSites() {
  const payload = await authed('GET', '/sites');
  return listOf(payload).map((site) => ({
    id: site.id,
    domain: site.domain,
    name: site.name || site.domain,
    timezone: site.timezone,
  }));
}

/** Sites come as a bare array; stats lists as `{ results: [...], meta }`. */
function listOf(payload) {
  if (Array.isArray(payload)) return payload;
  return Array.isArray(payload?.results) ? payload.results : [];
}

/** The overview cards, in the API's metric names. */
export const OVERVIEW_METRICS = [
  'visitors',
  'visits',
  'pageviews',
  'viewsPerVisit',
  'bounceRate',
  'visitDuration',
  'botShare',
];

/**
 * `query` is what every stats call takes: `{ siteId, period }` or `{ siteId, from, to }`, plus
 * `classification`.
 * @returns {Promise<Record<string, { value: number | null, previous: number | null, change: number | null }>>}
 */
export async function fetchOverview(query) {
  const payload = await authed('GET', '/stats/overview', { params: query });
  const results = payload?.results ?? {};
  const overview = {};
  for (const metric of OVERVIEW_METRICS) overview[metric] = metricValue(results[metric]);
  return overview;
}

function metricValue(entry) {
  return { value: entry?.value ?? null, previous: entry?.previous ?? null, change: entry?.change ?? null };
}

/** @returns {Promise<Array<{ date: string, visitors: number, pageviews: number }>>} */
export async function fetchTimeseries(query, interval) {
  const payload = await authed('GET', '/stats/timeseries', {
    params: { ...query, interval, metrics: 'visitors,pageviews' },
  });
  return listOf(payload).map((point) => ({
    date: String(point.date),
    visitors: numberOf(point.visitors),
    pageviews: numberOf(point.pageviews),
  }));
}

/**
 * Rows come with the raw `value` and a display `label` (country names, `Unknown`, `Direct / None`)
 * chosen by the server, so every client names missing values the same way. A metric the API
 * answers with null (time on page where no engagement was recorded) stays null.
 * @returns {Promise<Array<{ value: unknown, name: string, values: Record<string, number | null> }>>}
 */
export async function fetchBreakdown(query, { dimension, limit, metrics, filters }) {
  const payload = await authed('GET', '/stats/breakdown', {
    params: {
      ...query,
      dimension,
      limit,
      metrics: metrics.join(','),
      filters: filters?.length ? JSON.stringify(filters) : undefined,
    },
  });
  return listOf(payload).map((row) => ({
    value: row.value ?? null,
    name: String(row.label ?? row.value ?? 'Unknown'),
    values: Object.fromEntries(metrics.map((metric) => [metric, typeof row[metric] === 'number' ? row[metric] : null])),
  }));
}

/** @returns {Promise<Array<{ id: string, name: string }>>} the site's saved segments, by name */
export async function listSegments(siteId) {
  const payload = await authed('GET', `/sites/${encodeURIComponent(siteId)}/segments`);
  return listOf(payload).map((segment) => ({ id: segment.id, name: segment.name }));
}

/** @returns {Promise<Array<{ id: string, name: string }>>} the site's funnels, by name */
export async function listFunnels(siteId) {
  const payload = await authed('GET', `/sites/${encodeURIComponent(siteId)}/funnels`);
  return listOf(payload).map((funnel) => ({ id: funnel.id, name: funnel.name }));
}

/**
 * A funnel's figures for the dashboard's query (range, classification, segment).
 * @returns {Promise<{ visitors: number, enteringVisitors: number, enteringVisitorsPercentage: number,
 *   steps: Array<{ step: number, label: string, visitors: number, dropoff: number,
 *   conversionRate: number, conversionRateStep: number }> }>}
 */
export async function fetchFunnel(query, funnelId) {
  const payload = await authed('GET', '/stats/funnel', { params: { ...query, funnelId } });
  return {
    visitors: numberOf(payload?.visitors),
    enteringVisitors: numberOf(payload?.enteringVisitors),
    enteringVisitorsPercentage: numberOf(payload?.enteringVisitorsPercentage),
    steps: (payload?.steps ?? []).map((step) => ({
      step: numberOf(step.step),
      label: String(step.label ?? ''),
      visitors: numberOf(step.visitors),
      dropoff: numberOf(step.dropoff),
      conversionRate: numberOf(step.conversionRate),
      conversionRateStep: numberOf(step.conversionRateStep),
    })),
  };
}

/**
 * Conversions per goal: `POST /stats/query` with the `goal` dimension (the breakdown endpoint
 * has no goal dimension). `query` is the dashboard's `{ siteId, period | from, to, classification, segment? }`.
 * @returns {Promise<Array<{ value: string, name: string, values: Record<string, number | null> }>>}
 */
export async function fetchGoalConversions(query, { limit, metrics }) {
  const { siteId, period, from, to, classification, segment } = query;
  const payload = await authed('POST', '/stats/query', {
    body: {
      siteId,
      dateRange: period ? { period } : { from, to },
      classification,
      ...(segment ? { segment } : {}),
      dimensions: ['goal'],
      metrics,
      limit,
    },
  });
  return listOf(payload).map((row) => ({
    value: row.dimensions?.goal ?? null,
    name: String(row.dimensions?.goal ?? ''),
    values: Object.fromEntries(
      metrics.map((metric) => [metric, typeof row.metrics?.[metric] === 'number' ? row.metrics[metric] : null]),
    ),
  }));
}

/** @returns {Promise<number>} visitors in the last five minutes */
export async function fetchRealtime(siteId) {
  const payload = await authed('GET', '/stats/realtime', { params: { siteId } });
  return numberOf(payload?.visitors);
}

function numberOf(value) {
  return typeof value === 'number' ? value : 0;
}
