import { BadRequestException, ForbiddenException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from '@jest/globals';
import type { SiteView } from '../sites/site-view.js';
import type { SitesService } from '../sites/sites.service.js';
import type { Principal } from './principal.js';
import { SiteAccessService } from './site-access.service.js';

const site = (id: string, domain: string): SiteView => ({
  id,
  domain,
  name: domain,
  timezone: 'UTC',
  allowedOrigins: [],
  respectDoNotTrack: false,
});
const alpha = site('a'.repeat(24), 'alpha.example');
const beta = site('b'.repeat(24), 'beta.example');

function serviceWith(sites: SiteView[]): SiteAccessService {
  const fake: Pick<SitesService, 'findByIdOrDomain' | 'listAll' | 'listByIds'> = {
    findByIdOrDomain: (ref) =>
      Promise.resolve(
        sites.find((candidate) => candidate.id === ref || candidate.domain === ref.toLowerCase()) ?? null,
      ),
    listAll: () => Promise.resolve(sites),
    listByIds: (ids) => Promise.resolve(sites.filter((candidate) => ids.includes(candidate.id))),
  };
  return new SiteAccessService(fake as SitesService);
}

const admin: Principal = { kind: 'user', userId: 'u1', email: 'a@x.test', role: 'admin', siteIds: [] };
const viewerOf = (...siteIds: string[]): Principal => ({
  kind: 'user',
  userId: 'u2',
  email: 'v@x.test',
  role: 'viewer',
  siteIds,
});
const keyOf = (siteId: string, scopes: ('ingest' | 'read')[]): Principal => ({
  kind: 'siteKey',
  keyId: 'k1',
  siteId,
  scopes,
});

describe('SiteAccessService.resolveReadableSite', () => {
  it('lets admins read any site by id or domain, 404 for an unknown one', async () => {
    const access = serviceWith([alpha, beta]);
    await expect(access.resolveReadableSite(admin, beta.id)).resolves.toEqual(beta);
    await expect(access.resolveReadableSite(admin, 'ALPHA.example')).resolves.toEqual(alpha);
    await expect(access.resolveReadableSite(admin, 'gamma.example')).rejects.toBeInstanceOf(NotFoundException);
  });

  it('needs siteId when the caller sees several sites, and infers it when only one', async () => {
    await expect(serviceWith([alpha, beta]).resolveReadableSite(admin)).rejects.toThrow(
      new BadRequestException('siteId is required'),
    );
    await expect(serviceWith([alpha, beta]).resolveReadableSite(admin, '  ')).rejects.toThrow('siteId is required');
    await expect(serviceWith([alpha]).resolveReadableSite(admin)).resolves.toEqual(alpha);
    await expect(serviceWith([]).resolveReadableSite(admin)).rejects.toBeInstanceOf(NotFoundException);
    await expect(serviceWith([alpha, beta]).resolveReadableSite(viewerOf(beta.id))).resolves.toEqual(beta);
    await expect(serviceWith([alpha, beta]).resolveReadableSite(viewerOf(alpha.id, beta.id))).rejects.toThrow(
      'siteId is required',
    );
  });

  it('gives viewers 403 for sites outside their list, existing or not', async () => {
    const access = serviceWith([alpha, beta]);
    await expect(access.resolveReadableSite(viewerOf(alpha.id), alpha.domain)).resolves.toEqual(alpha);
    await expect(access.resolveReadableSite(viewerOf(alpha.id), beta.id)).rejects.toBeInstanceOf(ForbiddenException);
    await expect(access.resolveReadableSite(viewerOf(alpha.id), 'gamma.example')).rejects.toBeInstanceOf(
      ForbiddenException,
    );
    await expect(access.resolveReadableSite(viewerOf())).rejects.toBeInstanceOf(ForbiddenException);
  });

  it('confines a read key to its own site and refuses ingest-only keys', async () => {
    const access = serviceWith([alpha, beta]);
    await expect(access.resolveReadableSite(keyOf(alpha.id, ['read']))).resolves.toEqual(alpha);
    await expect(access.resolveReadableSite(keyOf(alpha.id, ['ingest', 'read']), alpha.domain)).resolves.toEqual(alpha);
    await expect(access.resolveReadableSite(keyOf(alpha.id, ['read']), beta.domain)).rejects.toBeInstanceOf(
      ForbiddenException,
    );
    await expect(access.resolveReadableSite(keyOf(alpha.id, ['read']), 'gamma.example')).rejects.toBeInstanceOf(
      ForbiddenException,
    );
    await expect(access.resolveReadableSite(keyOf(alpha.id, ['ingest']))).rejects.toBeInstanceOf(ForbiddenException);
  });
});
