import { Module } from '@nestjs/common';
import { LeaseModule } from '../database/leases/lease.module.js';
import { SitesModule } from '../sites/sites.module.js';
import { DataPurgeModule } from './data-purge.module.js';
import { DEFAULT_RETENTION_SCHEDULE, RETENTION_SCHEDULE, RetentionJob } from './retention-job.js';
import { RetentionController } from './retention.controller.js';

/** RETENTION_DAYS, the admin purge and erasure routes. Override RETENTION_SCHEDULE in tests. */
@Module({
  imports: [DataPurgeModule, LeaseModule, SitesModule],
  controllers: [RetentionController],
  providers: [RetentionJob, { provide: RETENTION_SCHEDULE, useValue: DEFAULT_RETENTION_SCHEDULE }],
  exports: [RetentionJob],
})
export class RetentionModule {}
