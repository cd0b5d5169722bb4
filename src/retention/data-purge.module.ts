import { Module } from '@nestjs/common';
import { EngagementStoreModule } from '../ingestion/engagement-store.module.js';
import { HitsModule } from '../hits/hits.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { DataDeletionEvents } from './data-deletion-events.js';
import { DataPurgeService } from './data-purge.service.js';

/**
 * Deleting recorded data, without the HTTP routes or the timer: what the CLI `purge` command
 * needs. Modules with their own derived data import it to listen to DataDeletionEvents.
 */
@Module({
  imports: [HitsModule, EngagementStoreModule, SessionsModule],
  providers: [DataPurgeService, DataDeletionEvents],
  exports: [DataPurgeService, DataDeletionEvents],
})
export class DataPurgeModule {}
