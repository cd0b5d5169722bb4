import { Module } from '@nestjs/common';
import { GeoModule } from '../geo/geo.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SitesModule } from '../sites/sites.module.js';
import { EngagementStoreModule } from './engagement-store.module.js';
import { EnrichmentService } from './enrichment/enrichment.service.js';
import { HitsModule } from '../hits/hits.module.js';
import { HitWriter } from './hit-writer.js';
import { IngestAuthenticator } from './ingest-authenticator.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';
import { TrackerController } from './tracker.controller.js';

@Module({
  imports: [HitsModule, EngagementStoreModule, GeoModule, SessionsModule, SitesModule],
  controllers: [IngestController, TrackerController],
  providers: [IngestService, IngestAuthenticator, EnrichmentService, HitWriter],
  exports: [HitsModule, EngagementStoreModule, IngestService, EnrichmentService, HitWriter],
})
export class IngestionModule {}
