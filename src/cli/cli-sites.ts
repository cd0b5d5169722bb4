import { Injectable } from '@nestjs/common';
import type { SiteView } from '../sites/site-view.js';
import { SitesService } from '../sites/sites.service.js';

/** `--site` takes a site id or its domain, like the API's `siteId`. */
@Injectable()
export class CliSites {
  constructor(private readonly sites: SitesService) {}

  async resolve(ref: string): Promise<SiteView> {
    const site = await this.sites.findByIdOrDomain(ref);
    if (!site) throw new Error(`No site with id or domain "${ref}"`);
    return site;
  }
}
