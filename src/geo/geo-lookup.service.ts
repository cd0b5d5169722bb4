import { Injectable } from '@nestjs/common';

export interface GeoLocation {
  countryCode: string | null;
  region: string | null;
  city: string | null;
}

type GeoIpModule = typeof import('geoip-lite');

const UNKNOWN: GeoLocation = { countryCode: null, region: null, city: null };

/**
 * IP → country/region/city with geoip-lite. Its database takes ~190 ms to load, so it is
 * imported on the first lookup (once per process), not when the module graph loads: test files
 * and CLI commands that never ingest never pay for it. `ready()` lets the ingest path await the
 * load once and then look up synchronously.
 */
@Injectable()
export class GeoLookupService {
  private static loading: Promise<GeoIpModule> | undefined;
  private geoip: GeoIpModule | undefined;

  async ready(): Promise<void> {
    if (this.geoip) return;
    GeoLookupService.loading ??= import('geoip-lite').then(
      (imported) => (imported as { default?: GeoIpModule }).default ?? imported,
    );
    this.geoip = await GeoLookupService.loading;
  }

  /** Call `ready()` first. Private, reserved and unknown addresses give nulls. */
  lookup(ip: string): GeoLocation {
    const found = this.geoip?.lookup(ip);
    if (!found || !found.country) return UNKNOWN;
    return { countryCode: found.country, region: found.region || null, city: found.city || null };
  }
}
