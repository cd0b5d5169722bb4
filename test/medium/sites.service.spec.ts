import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConflictException } from '@nestjs/common';
import { SitesModule } from '../../src/sites/sites.module.js';
import { SitesService } from '../../src/sites/sites.service.js';
import { startMedium, type Medium } from '../support/medium.js';

describe('SitesService against the store', () => {
  let medium: Medium;
  let sites: SitesService;

  beforeAll(async () => {
    medium = await startMedium(SitesModule);
    sites = medium.get(SitesService);
  });

  afterAll(async () => {
    await medium.close();
  });

  it('refuses a second site on the same domain, however it is written (unique index on the normalised domain)', async () => {
    await sites.create({ domain: 'https://Shop.example.com/', name: 'Shop' });
    await expect(sites.create({ domain: 'SHOP.example.COM', name: 'Shop again' })).rejects.toBeInstanceOf(
      ConflictException,
    );
    expect(await medium.database.db.collection('sites').countDocuments({ domain: 'shop.example.com' })).toBe(1);
  });

  it('finds a site by id or by its domain in any case, with or without scheme', async () => {
    const site = await sites.create({ domain: 'blog.example.com', name: 'Blog' });
    expect((await sites.findByIdOrDomain(site.id))?.id).toBe(site.id);
    expect((await sites.findByIdOrDomain('HTTPS://Blog.Example.com'))?.id).toBe(site.id);
    expect(await sites.findByIdOrDomain('nowhere.example.com')).toBeNull();
  });

  it('stores a key only hashed, authenticates it with its scopes, and forgets it once revoked', async () => {
    const site = await sites.create({ domain: 'keys.example.com', name: 'Keys' });
    const issued = await sites.createKey(site.id, ['ingest', 'read']);
    const stored = await medium.database.db.collection('site_keys').find({}).toArray();
    expect(JSON.stringify(stored)).not.toContain(issued.key);

    expect(await sites.authenticateKey(issued.key)).toEqual({
      keyId: issued.id,
      siteId: site.id,
      scopes: ['ingest', 'read'],
    });
    await sites.revokeKey(site.id, issued.id);
    expect(await sites.authenticateKey(issued.key)).toBeNull();
  });
});
