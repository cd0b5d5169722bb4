import { Module } from '@nestjs/common';
import { GeoLookupService } from './geo-lookup.service.js';
import { REVERSE_DNS_RESOLVER, ReverseDnsService, systemReverseDnsResolver } from './reverse-dns.service.js';

/** IP → location (geoip-lite) and IP → network domain (reverse DNS). Country names: `country-name.ts`. */
@Module({
  providers: [
    GeoLookupService,
    ReverseDnsService,
    { provide: REVERSE_DNS_RESOLVER, useValue: systemReverseDnsResolver },
  ],
  exports: [GeoLookupService, ReverseDnsService],
})
export class GeoModule {}
