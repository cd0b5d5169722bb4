import { Module } from '@nestjs/common';
import { HitStoreModule } from '../ingestion/hit-store.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { DataPurgeService } from './data-purge.service.js';

/** Deleting recorded data, without the HTTP routes or the timer: what the CLI `purge` command needs. */
@Module({
  imports: [HitStoreModule, SessionsModule],
  providers: [DataPurgeService],
  exports: [DataPurgeService],
})
export class DataPurgeModule {}
