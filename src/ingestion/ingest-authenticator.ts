import { ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { extractPresentedKey } from '../auth/presented-credentials.js';
import { LruCache } from '../common/collections/lru-cache.js';
import { isOriginAllowed } from '../sites/site-rules.js';
import type { SiteView } from '../sites/site-view.js';
import { SitesService } from '../sites/sites.service.js';

export type IngestCaller =
  | { kind: 'key'; keyId: string; site: SiteView }
  /** No key. `origin` is undefined only for a translated send from a server (see authenticateKeyless). */
  | { kind: 'browser'; site: SiteView; origin: string | undefined };

/**
 * Site settings are read on every ingest request; caching them for a few seconds saves a
 * database round trip per hit. A changed allowedOrigins or respectDoNotTrack takes effect on
 * every instance within this time.
 */
const SITE_CACHE_TTL_MS = 10_000;

/**
 * Who may send these hits: a server with a site key (`ingest` scope), or a browser without one
 * whose `Origin` is the site's domain or one of its `allowedOrigins` (docs/api.md, "Ingest").
 */
@Injectable()
export class IngestAuthenticator {
  private readonly sitesById = new LruCache<string, SiteView>(1000, SITE_CACHE_TTL_MS);

  constructor(private readonly sites: SitesService) {}

  presentsKey(headers: IncomingHttpHeaders): boolean {
    return extractPresentedKey(headers) !== undefined;
  }

  /** A server-side sender: the key must be active and carry the `ingest` scope. */
  async authenticateKey(headers: IncomingHttpHeaders): Promise<IngestCaller> {
    const rawKey = extractPresentedKey(headers);
    if (rawKey === undefined) throw new UnauthorizedException('A site key is required (Authorization: <key>)');
    const key = await this.sites.authenticateKey(rawKey);
    if (!key) throw new UnauthorizedException('Unknown or revoked site key');
    if (!key.scopes.includes('ingest')) throw new ForbiddenException('This site key has no ingest scope');
    const site = await this.site(key.siteId, (id) => this.sites.findById(id));
    if (!site) throw new UnauthorizedException('Unknown or revoked site key');
    return { kind: 'key', keyId: key.keyId, site };
  }

  /** A browser (tracker) send: the site must exist and the Origin must belong to it. */
  async authenticateBrowser(siteRef: string | undefined, origin: string | undefined): Promise<IngestCaller> {
    if (siteRef === undefined) throw new UnauthorizedException('siteId (or a site key) is required');
    const site = await this.site(siteRef, (ref) => this.sites.findByIdOrDomain(ref));
    if (!site) throw new UnauthorizedException('Unknown site');
    if (origin === undefined || !isOriginAllowed(site, origin)) {
      throw new ForbiddenException('Origin is not allowed to send hits for this site');
    }
    return { kind: 'browser', site, origin };
  }

  /**
   * A key-less send arriving through another product's collection API (Plausible's Events API,
   * Umami's `/api/send`). Those products accept sends from servers, which carry no Origin header,
   * and their server-side clients (`@umami/node`, a backend calling Plausible's API) cannot present
   * a key: a request without an Origin is accepted for an existing site. A browser always sends
   * Origin on these cross-origin POSTs, and its Origin must be allowed for the site, as for
   * `/api/v1/hits`. (An Origin header proves nothing about a server, which can send any; it keeps
   * other websites' pages from sending hits for this site.)
   */
  async authenticateKeyless(
    siteRef: string,
    origin: string | undefined,
  ): Promise<Extract<IngestCaller, { kind: 'browser' }>> {
    const site = await this.site(siteRef, (ref) => this.sites.findByIdOrDomain(ref));
    if (!site) throw new UnauthorizedException('Unknown site');
    if (origin !== undefined && !isOriginAllowed(site, origin)) {
      throw new ForbiddenException('Origin is not allowed to send hits for this site');
    }
    return { kind: 'browser', site, origin };
  }

  /** Whether `ref` (an item's siteId) names the caller's site, by id or domain. */
  matchesSite(site: SiteView, ref: string): boolean {
    return ref === site.id || ref.toLowerCase().replace(/^www\./, '') === site.domain.replace(/^www\./, '');
  }

  private async site(ref: string, load: (ref: string) => Promise<SiteView | null>): Promise<SiteView | null> {
    const now = performance.now();
    const cached = this.sitesById.get(ref, now);
    if (cached) return cached;
    const site = await load(ref);
    if (site) this.sitesById.set(ref, site, now);
    return site;
  }
}
