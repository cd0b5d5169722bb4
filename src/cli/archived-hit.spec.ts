import { describe, expect, it } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { Types } from 'mongoose';
import type { GeoLookupService } from '../geo/geo-lookup.service.js';
import type { ReverseDnsService } from '../geo/reverse-dns.service.js';
import { EnrichmentService } from '../ingestion/enrichment/enrichment.service.js';
import type { NewHit } from '../hits/hits.repository.js';
import { storedHit as withoutNullFields } from '../hits/stored-hit.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { SiteView } from '../sites/site-view.js';
import { ArchivedHitDto, restoreArchivedHit, toExportedHit } from './archived-hit.js';

const site: SiteView = {
  id: new Types.ObjectId().toHexString(),
  domain: 'shop.example',
  name: 'shop',
  timezone: 'UTC',
  allowedOrigins: [],
  respectDoNotTrack: false,
};

/** Enrichment over fakes: nothing here depends on geo, reverse DNS or the visitor hash (restored from the record). */
const enrichment = new EnrichmentService(
  {
    lookup: () => ({ countryCode: null, region: null, city: null }),
    ready: () => Promise.resolve(),
  } as unknown as GeoLookupService,
  { cached: () => undefined } as unknown as ReverseDnsService,
  { visitorKey: () => 'f'.repeat(32), userKey: () => 'e'.repeat(32) } as unknown as SessionsService,
);

function storedHit(fields: Partial<NewHit>): NewHit {
  const hit = enrichment.enrich(
    site,
    { url: '/', userAgent: '', ip: '', ts: new Date('2024-06-01T10:00:00Z') },
    new Date(),
  );
  return { ...hit!, visitorKey: 'a'.repeat(32), ...fields };
}

/** Export, then import through the DTO's rules, as `export` → `import` does. */
function roundTrip(hit: NewHit): NewHit | string {
  const record = plainToInstance(ArchivedHitDto, JSON.parse(JSON.stringify(toExportedHit(hit))) as object);
  const errors = validateSync(record);
  if (errors.length > 0) return errors.map((error) => Object.values(error.constraints ?? {}).join()).join('; ');
  return restoreArchivedHit(enrichment, site, record, new Date());
}

describe('export → import of a hit', () => {
  it('keeps a custom event’s revenue', () => {
    const restored = roundTrip(storedHit({ name: 'Purchase', revenueAmount: 12.5, revenueCurrency: 'EUR' })) as NewHit;
    expect({
      name: restored.name,
      revenueAmount: restored.revenueAmount,
      revenueCurrency: restored.revenueCurrency,
    }).toEqual({
      name: 'Purchase',
      revenueAmount: 12.5,
      revenueCurrency: 'EUR',
    });
  });

  it('keeps the fragment of a page recorded in hash mode, and a plain path as it was', () => {
    expect((roundTrip(storedHit({ path: '/app#/settings' })) as NewHit).path).toBe('/app#/settings');
    expect((roundTrip(storedHit({ path: '/pricing' })) as NewHit).path).toBe('/pricing');
  });

  it('exports a hit stored without its empty fields exactly as the same hit stored with nulls', () => {
    const withNulls = storedHit({ utmSource: 'news', utmMedium: null, utmCampaign: 'spring', referrer: null });
    const record = toExportedHit(withNulls);
    expect(record.url).toBe('https://shop.example/?utm_source=news&utm_campaign=spring');
    expect(toExportedHit(withoutNullFields(withNulls))).toEqual(record);
  });

  it('refuses a revenue amount without its currency', () => {
    const record = plainToInstance(ArchivedHitDto, {
      ...toExportedHit(storedHit({ name: 'Purchase' })),
      revenueAmount: '3',
    });
    expect(restoreArchivedHit(enrichment, site, record, new Date())).toBe(
      'revenueAmount: revenueAmount and revenueCurrency go together',
    );
  });
});
