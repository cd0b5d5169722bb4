import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataDeletionEvents } from '../../retention/data-deletion-events.js';
import { RollupRepository } from './rollup.repository.js';

/**
 * After a purge or erasure the site's rollup rows still count the deleted hits: flag the site so
 * reads fall back to raw hits (on every instance — the flag is in MongoDB) until the rollup job
 * has rebuilt it.
 */
@Injectable()
export class RollupInvalidationListener implements OnModuleInit {
  constructor(
    private readonly events: DataDeletionEvents,
    private readonly rollups: RollupRepository,
  ) {}

  onModuleInit(): void {
    this.events.onSiteDataDeleted((event) => this.rollups.markSiteForRebuild(event.siteId));
  }
}
