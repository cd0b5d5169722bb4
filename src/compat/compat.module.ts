import { Module } from '@nestjs/common';
import { IngestionModule } from '../ingestion/ingestion.module.js';
import { PlausibleEventsController } from './plausible/plausible-events.controller.js';
import { UmamiCollectController } from './umami/umami-collect.controller.js';

/**
 * Plausible's and Umami's collection APIs, so their trackers and clients can send to Siteline
 * unchanged. Thin translations at the edge: each body becomes `POST /api/v1/hits` items and goes
 * through IngestService; nothing here is stored or known by the core.
 */
@Module({
  imports: [IngestionModule],
  controllers: [PlausibleEventsController, UmamiCollectController],
})
export class CompatModule {}
