import type { TestApp } from '../support/test-app.js';
import { SitesService } from '../../src/sites/sites.service.js';
import type { KeyScope } from '../../src/auth/principal.js';

/** Googlebot smartphone, the user agent of the site-analytics traffic example, verbatim. */
export const GOOGLEBOT_SMARTPHONE_UA =
  'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.92 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

export const FIREFOX_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';

export interface IngestSite {
  siteId: string;
  domain: string;
  key: string;
}

let counter = 0;

/** A site with an ingest key, created through the sites service of a running app. */
export async function createIngestSite(
  app: TestApp,
  options: { domain?: string; allowedOrigins?: string[]; respectDoNotTrack?: boolean; scopes?: KeyScope[] } = {},
): Promise<IngestSite> {
  const sites = app.app.get(SitesService);
  const domain = options.domain ?? `site${++counter}-${Date.now()}.example.com`;
  const site = await sites.create({
    domain,
    name: domain,
    allowedOrigins: options.allowedOrigins,
    respectDoNotTrack: options.respectDoNotTrack,
  });
  const issued = await sites.createKey(site.id, options.scopes ?? ['ingest']);
  return { siteId: site.id, domain, key: issued.key };
}

/** A hit body for `POST /api/v1/hits` sent with a key. */
export function keyHit(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { url: '/', userAgent: FIREFOX_UA, ip: '203.0.113.10', ...overrides };
}
