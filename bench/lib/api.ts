import { ADMIN } from './children.js';

export interface BenchSite {
  id: string;
  domain: string;
  ingestKey: string;
  readKey: string;
}

async function call<T>(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

export async function adminToken(base: string): Promise<string> {
  const { accessToken } = await call<{ accessToken: string }>(base, 'POST', '/api/v1/auth/login', undefined, ADMIN);
  return accessToken;
}

/** A fresh site with one ingest key and one read key, so each scenario counts its own hits. */
export async function createSite(base: string, token: string, domain: string): Promise<BenchSite> {
  const site = await call<{ id: string }>(base, 'POST', '/api/v1/sites', token, { domain, name: domain });
  const ingest = await call<{ key: string }>(base, 'POST', `/api/v1/sites/${site.id}/keys`, token, {
    scopes: ['ingest'],
  });
  const read = await call<{ key: string }>(base, 'POST', `/api/v1/sites/${site.id}/keys`, token, { scopes: ['read'] });
  return { id: site.id, domain, ingestKey: ingest.key, readKey: read.key };
}

/**
 * GET with a read key; returns the elapsed milliseconds and the parsed body. A connection the
 * server cut (its 30 s socket timeout) comes back as status 0 instead of throwing.
 */
export async function timedGet(
  base: string,
  path: string,
  key: string,
): Promise<{ ms: number; status: number; body: unknown }> {
  const started = performance.now();
  try {
    const response = await fetch(`${base}${path}`, { headers: { authorization: key } });
    const text = await response.text();
    const ms = performance.now() - started;
    return {
      ms,
      status: response.status,
      body: text.startsWith('{') || text.startsWith('[') ? (JSON.parse(text) as unknown) : text,
    };
  } catch (error) {
    return { ms: performance.now() - started, status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}
