import { BadRequestException, ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import type { SiteView } from '../sites/site-view.js';
import { SitesService } from '../sites/sites.service.js';
import type { Principal } from './principal.js';

const NO_ACCESS = 'This account or key cannot access that site';

/**
 * Which site a read request is about, and whether the caller may read it. Admins read
 * every site and get 404 for one that does not exist. Viewers and read keys get 403 for any site
 * outside their reach, existing or not, so they cannot probe which sites exist.
 */
@Injectable()
export class SiteAccessService {
  constructor(private readonly sites: SitesService) {}

  async resolveReadableSite(principal: Principal, siteRef?: string): Promise<SiteView> {
    const ref = siteRef?.trim() || undefined;
    if (principal.kind === 'siteKey') return this.forSiteKey(principal, ref);
    if (principal.role === 'admin') return this.forAdmin(ref);
    return this.forViewer(principal.siteIds, ref);
  }

  private async forSiteKey(key: Extract<Principal, { kind: 'siteKey' }>, ref: string | undefined): Promise<SiteView> {
    if (!key.scopes.includes('read')) throw new ForbiddenException('This site key lacks the read scope');
    const site = await this.sites.findByIdOrDomain(ref ?? key.siteId);
    if (!site || site.id !== key.siteId) throw new ForbiddenException(NO_ACCESS);
    return site;
  }

  private async forAdmin(ref: string | undefined): Promise<SiteView> {
    if (ref) {
      const site = await this.sites.findByIdOrDomain(ref);
      if (!site) throw new NotFoundException(`Site ${ref} not found`);
      return site;
    }
    return this.onlyOne(await this.sites.listAll());
  }

  private async forViewer(siteIds: string[], ref: string | undefined): Promise<SiteView> {
    if (ref) {
      const site = await this.sites.findByIdOrDomain(ref);
      if (!site || !siteIds.includes(site.id)) throw new ForbiddenException(NO_ACCESS);
      return site;
    }
    const visible = await this.sites.listByIds(siteIds);
    if (visible.length === 0) throw new ForbiddenException('No site is shared with this account');
    return this.onlyOne(visible);
  }

  private onlyOne(sites: SiteView[]): SiteView {
    if (sites.length === 0) throw new NotFoundException('No site exists yet');
    if (sites.length > 1) throw new BadRequestException('siteId is required');
    return sites[0];
  }
}
