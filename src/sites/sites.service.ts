import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { SITE_KEY_PREFIX } from '../auth/presented-credentials.js';
import type { KeyScope } from '../auth/principal.js';
import { Clock } from '../common/time/clock.js';
import { ExpiringLru } from './key-cache.js';
import { SiteKeysRepository, type StoredSiteKey } from './site-keys.repository.js';
import { isValidTimezone, normalizeDomain, normalizeOrigin } from './site-rules.js';
import type { SiteView } from './site-view.js';
import { SitesRepository, type SiteFields, type StoredSite } from './sites.repository.js';
import { isDuplicateKeyError } from '../database/database-errors.js';

export interface AuthenticatedKey {
  keyId: string;
  siteId: string;
  scopes: KeyScope[];
}

export interface IssuedKey {
  id: string;
  key: string;
  scopes: KeyScope[];
  prefix: string;
  createdAt: Date;
}

export interface SiteInput {
  domain?: string;
  name?: string;
  timezone?: string;
  allowedOrigins?: string[];
  respectDoNotTrack?: boolean;
}

/**
 * A positive key lookup is trusted for this long. Ingest authenticates every request with a key,
 * so this saves a database round trip per hit; the price is that a key revoked through another
 * app instance keeps working there for up to this long (the instance that revokes it forgets it
 * at once).
 */
export const KEY_CACHE_TTL_MS = 30_000;
const KEY_CACHE_CAPACITY = 10_000;
const DISPLAY_PREFIX_LENGTH = SITE_KEY_PREFIX.length + 6;

export function hashSiteKey(rawKey: string): string {
  return createHash('sha256').update(rawKey).digest('hex');
}

function toView(site: StoredSite): SiteView {
  const { createdAt: _createdAt, ...view } = site;
  return view;
}

@Injectable()
export class SitesService {
  private readonly keyCache = new ExpiringLru<AuthenticatedKey>(KEY_CACHE_CAPACITY, KEY_CACHE_TTL_MS);

  constructor(
    private readonly sites: SitesRepository,
    private readonly keys: SiteKeysRepository,
    private readonly clock: Clock,
  ) {}

  async findById(id: string): Promise<SiteView | null> {
    const site = await this.sites.findById(id);
    return site ? toView(site) : null;
  }

  /** `ref` is a site id or its domain (any case, with or without scheme), as every read endpoint's `siteId` allows. */
  async findByIdOrDomain(ref: string): Promise<SiteView | null> {
    const byId = await this.sites.findById(ref);
    if (byId) return toView(byId);
    const domain = normalizeDomain(ref);
    const byDomain = domain ? await this.sites.findByDomain(domain) : null;
    return byDomain ? toView(byDomain) : null;
  }

  async listAll(): Promise<SiteView[]> {
    return (await this.sites.listAll()).map(toView);
  }

  async listByIds(ids: string[]): Promise<SiteView[]> {
    return (await this.sites.findManyByIds(ids)).map(toView);
  }

  async getStored(id: string): Promise<StoredSite> {
    const site = await this.sites.findById(id);
    if (!site) throw new NotFoundException('Site not found');
    return site;
  }

  async listStored(ids?: string[]): Promise<StoredSite[]> {
    return ids ? this.sites.findManyByIds(ids) : this.sites.listAll();
  }

  async create(input: SiteInput & { domain: string; name: string }): Promise<StoredSite> {
    const fields: SiteFields = {
      domain: input.domain,
      name: input.name,
      timezone: 'UTC',
      allowedOrigins: [],
      respectDoNotTrack: false,
      ...this.validated(input),
    };
    try {
      return await this.sites.create(fields);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictException(`A site with domain ${fields.domain} already exists`);
      throw error;
    }
  }

  async update(id: string, input: SiteInput): Promise<StoredSite> {
    const fields = this.validated(input);
    try {
      const site = await this.sites.update(id, fields);
      if (!site) throw new NotFoundException('Site not found');
      return site;
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictException(`A site with domain ${fields.domain} already exists`);
      throw error;
    }
  }

  /** Deleting a site revokes its keys; its stored hits are left for the data-purge tools. */
  async delete(id: string): Promise<void> {
    const site = await this.getStored(id);
    await this.keys.revokeAllForSite(site.id, this.clock.now());
    this.keyCache.deleteWhere((key) => key.siteId === site.id);
    await this.sites.delete(site.id);
  }

  async createKey(siteId: string, scopes: KeyScope[] = ['ingest']): Promise<IssuedKey> {
    const site = await this.getStored(siteId);
    const key = `${SITE_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const stored = await this.keys.create(site.id, hashSiteKey(key), key.slice(0, DISPLAY_PREFIX_LENGTH), [
      ...new Set(scopes),
    ]);
    return { id: stored.id, key, scopes: stored.scopes, prefix: stored.prefix, createdAt: stored.createdAt };
  }

  async listKeys(siteId: string): Promise<StoredSiteKey[]> {
    const site = await this.getStored(siteId);
    return this.keys.listForSite(site.id);
  }

  async revokeKey(siteId: string, keyId: string): Promise<StoredSiteKey> {
    const key = await this.keys.findForSite(siteId, keyId);
    if (!key) throw new NotFoundException('Key not found');
    const keyHash = await this.keys.revoke(siteId, keyId, this.clock.now());
    if (keyHash) this.keyCache.delete(keyHash);
    return key;
  }

  /** Issues a key with the same scopes and revokes the old one (which must still be active). */
  async rotateKey(siteId: string, keyId: string): Promise<IssuedKey> {
    const key = await this.keys.findForSite(siteId, keyId);
    if (!key || key.revokedAt) throw new NotFoundException('Key not found or already revoked');
    const issued = await this.createKey(siteId, key.scopes);
    await this.revokeKey(siteId, keyId);
    return issued;
  }

  /** Who a presented site key belongs to, or null when it is unknown or revoked (see KEY_CACHE_TTL_MS). */
  async authenticateKey(rawKey: string): Promise<AuthenticatedKey | null> {
    if (!rawKey) return null;
    const keyHash = hashSiteKey(rawKey);
    const cached = this.keyCache.get(keyHash);
    if (cached) return cached;
    const stored = await this.keys.findActiveByHash(keyHash);
    if (!stored) return null;
    const authenticated = { keyId: stored.id, siteId: stored.siteId, scopes: stored.scopes };
    this.keyCache.set(keyHash, authenticated);
    return authenticated;
  }

  private validated(input: SiteInput): Partial<SiteFields> {
    const fields: Partial<SiteFields> = {};
    if (input.domain !== undefined) {
      const domain = normalizeDomain(input.domain);
      if (!domain) throw new BadRequestException('domain must be a host name such as example.com');
      fields.domain = domain;
    }
    if (input.name !== undefined) fields.name = input.name.trim();
    if (input.timezone !== undefined) {
      if (!isValidTimezone(input.timezone))
        throw new BadRequestException(`timezone must be an IANA time zone such as Europe/Berlin`);
      fields.timezone = input.timezone;
    }
    if (input.allowedOrigins !== undefined) {
      fields.allowedOrigins = [
        ...new Set(
          input.allowedOrigins.map((origin) => {
            const normalized = normalizeOrigin(origin);
            if (!normalized)
              throw new BadRequestException(
                `allowedOrigins: ${origin} is not an origin such as https://app.example.com`,
              );
            return normalized;
          }),
        ),
      ];
    }
    if (input.respectDoNotTrack !== undefined) fields.respectDoNotTrack = input.respectDoNotTrack;
    return fields;
  }
}
