import { BadRequestException, Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { Clock } from '../common/time/clock.js';
import { EngagementsRepository } from '../ingestion/engagements.repository.js';
import { HitsRepository } from '../hits/hits.repository.js';
import { SessionsService } from '../sessions/sessions.service.js';
import type { SiteView } from '../sites/site-view.js';
import { DataDeletionEvents } from './data-deletion-events.js';
import { parseCalendarDate, startOfZonedDay } from '../common/time/calendar.js';

/** Documents removed, per collection (derived rollups are rebuilt by their owner, see DataDeletionEvents). */
export interface DeletedCounts {
  hits: number;
  visits: number;
  /** Engagement records (time on page, scroll depth), which nothing derives from. */
  engagements: number;
}

/**
 * Deleting recorded data: a site's data before a date (admin purge, CLI `purge`, retention) and
 * everything recorded for one identified user (erasure). Hits are deleted first, then the visits
 * derived from them; a visit that a cut-off splits is recomputed from the hits that remain. The
 * engagement records of the same time range or visitors go with them.
 */
@Injectable()
export class DataPurgeService {
  constructor(
    private readonly hits: HitsRepository,
    private readonly engagements: EngagementsRepository,
    private readonly sessions: SessionsService,
    private readonly clock: Clock,
    private readonly events: DataDeletionEvents,
  ) {}

  /** The instant `day` (YYYY-MM-DD) begins in the site's time zone; 400 when `day` is not a date. */
  startOfSiteDay(site: SiteView, day: string): Date {
    const parsed = parseCalendarDate(day);
    if (!parsed) throw new BadRequestException('before must be a date YYYY-MM-DD');
    return startOfZonedDay(parsed, site.timezone);
  }

  /** Purges a site's hits before the start of `day` in its time zone, and what derives from them. */
  async purgeSiteBeforeDay(site: SiteView, day: string): Promise<{ before: Date; deleted: DeletedCounts }> {
    const before = this.startOfSiteDay(site, day);
    return { before, deleted: await this.purgeSiteBefore(new Types.ObjectId(site.id), before) };
  }

  async purgeSiteBefore(siteId: Types.ObjectId, before: Date): Promise<DeletedCounts> {
    const hits = await this.hits.deleteSiteHitsBefore(siteId, before);
    const visits = await this.sessions.purgeVisitsBefore(siteId, before);
    const engagements = await this.engagements.deleteSiteBefore(siteId, before);
    if (removedAny({ hits, visits })) await this.events.siteDataDeleted({ siteId: siteId.toHexString(), before });
    return { hits, visits, engagements };
  }

  /** Retention: every site's data older than `before`, including sites deleted since. */
  async purgeAllBefore(before: Date, stopRequested: () => boolean = () => false): Promise<DeletedCounts> {
    const total: DeletedCounts = { hits: 0, visits: 0, engagements: 0 };
    const siteIds = new Map<string, Types.ObjectId>();
    for (const siteId of [...(await this.hits.findSiteIdsWithHits()), ...(await this.engagements.findSiteIds())]) {
      siteIds.set(siteId.toHexString(), siteId);
    }
    for (const siteId of siteIds.values()) {
      // Shutting down: the sites not purged yet are purged by the next run.
      if (stopRequested()) break;
      const deleted = await this.purgeSiteBefore(siteId, before);
      total.hits += deleted.hits;
      total.visits += deleted.visits;
      total.engagements += deleted.engagements;
    }
    return total;
  }

  /**
   * Erases one identified user of a site: their hits (found by the keyed userKey, never by the
   * raw id, which is not stored) and the visits of the visitor keys those hits were recorded
   * under. An identified hit's visitor key is derived from the userId alone, so it is included
   * even when no hit remains to look it up from.
   */
  async eraseUser(site: SiteView, userId: string): Promise<DeletedCounts> {
    const siteId = new Types.ObjectId(site.id);
    const userKey = this.sessions.userKey(site.id, userId);
    const identifiedVisitor = this.sessions.visitorKey({
      siteId: site.id,
      userId,
      ip: '',
      userAgent: '',
      ts: this.clock.now(),
    });
    const visitorKeys = [...new Set([identifiedVisitor, ...(await this.hits.findUserVisitorKeys(siteId, userKey))])];
    const hits = await this.hits.deleteUserHits(siteId, userKey, visitorKeys);
    const visits = await this.sessions.eraseVisitorsVisits(siteId, visitorKeys);
    const engagements = await this.engagements.deleteUser(siteId, userKey, visitorKeys);
    if (removedAny({ hits, visits })) await this.events.siteDataDeleted({ siteId: site.id, visitorKeys });
    return { hits, visits, engagements };
  }
}

/**
 * Whether listeners must hear of a deletion. Nothing removed means nothing derived changes: an
 * hourly retention run that finds nothing old must not send every site to a rebuild (and its reads
 * to raw hits until then), nor must an erasure repeated for a user already gone.
 */
function removedAny(deleted: Pick<DeletedCounts, 'hits' | 'visits'>): boolean {
  return deleted.hits > 0 || deleted.visits > 0;
}
