import { Injectable } from '@nestjs/common';

/** What a purge or erasure removed, for modules holding data derived from raw hits. */
export interface SiteDataDeleted {
  siteId: string;
  /** Set for a purge: hits before this instant went. */
  before?: Date;
  /** Set for an erasure: every hit of these visitors went. */
  visitorKeys?: string[];
}

export type SiteDataDeletedListener = (event: SiteDataDeleted) => Promise<void>;

/**
 * Lets a module that keeps its own derived data (the stats rollups) drop or rebuild it after a
 * purge or erasure, without this module knowing its collections: it imports DataPurgeModule and
 * registers a listener in `onModuleInit`. Listeners run after the hits and visits are deleted,
 * before the purge reports back, and only when a purge or erasure removed at least one document.
 */
@Injectable()
export class DataDeletionEvents {
  private readonly listeners: SiteDataDeletedListener[] = [];

  onSiteDataDeleted(listener: SiteDataDeletedListener): void {
    this.listeners.push(listener);
  }

  async siteDataDeleted(event: SiteDataDeleted): Promise<void> {
    for (const listener of this.listeners) await listener(event);
  }
}
