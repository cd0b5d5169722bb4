import { describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import { FixedClock } from '../common/time/clock.js';
import type { EngagementsRepository } from '../ingestion/engagements.repository.js';
import type { HitsRepository } from '../hits/hits.repository.js';
import type { SessionsService } from '../sessions/sessions.service.js';
import type { SiteView } from '../sites/site-view.js';
import { DataDeletionEvents, type SiteDataDeleted } from './data-deletion-events.js';
import { DataPurgeService } from './data-purge.service.js';

const site: SiteView = {
  id: 'a'.repeat(24),
  domain: 'alpha.example',
  name: 'alpha',
  timezone: 'UTC',
  allowedOrigins: [],
  respectDoNotTrack: false,
};
const other = 'b'.repeat(24);
const BEFORE = new Date('2024-05-16T12:00:00Z');

/** The service over fakes that delete `hits[siteId]` hits and `visits[siteId]` visits; the events it sent. */
function purgeWith(deleted: Record<string, { hits: number; visits: number; engagements?: number }>) {
  const count = (siteId: Types.ObjectId | string, kind: 'hits' | 'visits' | 'engagements') =>
    Promise.resolve(deleted[String(siteId)]?.[kind] ?? 0);
  // A site given engagements and no hits or visits has only engagements stored.
  const onlyEngagements = (id: string) =>
    deleted[id].hits === 0 && deleted[id].visits === 0 && (deleted[id].engagements ?? 0) > 0;
  const siteIdsWith = (kind: 'hits' | 'engagements') =>
    Promise.resolve(
      Object.keys(deleted)
        .filter((id) => (kind === 'hits' ? !onlyEngagements(id) : (deleted[id].engagements ?? 0) > 0))
        .map((id) => new Types.ObjectId(id)),
    );
  const hits: Pick<
    HitsRepository,
    'deleteSiteHitsBefore' | 'findSiteIdsWithHits' | 'findUserVisitorKeys' | 'deleteUserHits'
  > = {
    deleteSiteHitsBefore: (siteId) => count(siteId, 'hits'),
    findSiteIdsWithHits: () => siteIdsWith('hits'),
    findUserVisitorKeys: () => Promise.resolve([]),
    deleteUserHits: (siteId) => count(siteId, 'hits'),
  };
  const sessions: Pick<SessionsService, 'purgeVisitsBefore' | 'eraseVisitorsVisits' | 'userKey' | 'visitorKey'> = {
    purgeVisitsBefore: (siteId) => count(siteId, 'visits'),
    eraseVisitorsVisits: (siteId) => count(siteId, 'visits'),
    userKey: () => 'user-key',
    visitorKey: () => 'visitor-key',
  };
  const engagements: Pick<EngagementsRepository, 'deleteSiteBefore' | 'findSiteIds' | 'deleteUser'> = {
    deleteSiteBefore: (siteId) => count(siteId, 'engagements'),
    findSiteIds: () => siteIdsWith('engagements'),
    deleteUser: (siteId) => count(siteId, 'engagements'),
  };
  const events = new DataDeletionEvents();
  const sent: SiteDataDeleted[] = [];
  events.onSiteDataDeleted((event) => {
    sent.push(event);
    return Promise.resolve();
  });
  const service = new DataPurgeService(
    hits as HitsRepository,
    engagements as EngagementsRepository,
    sessions as SessionsService,
    new FixedClock(BEFORE),
    events,
  );
  return { service, sent };
}

describe('DataPurgeService: derived data is invalidated only when something was deleted', () => {
  it('retention also reaches a site with engagements but no hits left, and notifies no one (nothing derives from them)', async () => {
    const { service, sent } = purgeWith({ [other]: { hits: 0, visits: 0, engagements: 4 } });
    expect(await service.purgeAllBefore(BEFORE)).toEqual({ hits: 0, visits: 0, engagements: 4 });
    expect(sent).toEqual([]);
  });

  it('retention notifies only the sites it deleted hits or visits of', async () => {
    const { service, sent } = purgeWith({ [site.id]: { hits: 0, visits: 0 }, [other]: { hits: 3, visits: 2 } });
    expect(await service.purgeAllBefore(BEFORE)).toEqual({ hits: 3, visits: 2, engagements: 0 });
    expect(sent).toEqual([{ siteId: other, before: BEFORE }]);
  });

  it('a purge that removed only visits (their hits already gone) still notifies', async () => {
    const { service, sent } = purgeWith({ [site.id]: { hits: 0, visits: 1 } });
    await service.purgeSiteBefore(new Types.ObjectId(site.id), BEFORE);
    expect(sent).toEqual([{ siteId: site.id, before: BEFORE }]);
  });

  it('an erasure notifies when it removed something, not when the user had nothing left', async () => {
    const nothing = purgeWith({ [site.id]: { hits: 0, visits: 0 } });
    expect(await nothing.service.eraseUser(site, 'alice')).toEqual({ hits: 0, visits: 0, engagements: 0 });
    expect(nothing.sent).toEqual([]);

    const some = purgeWith({ [site.id]: { hits: 2, visits: 1 } });
    expect(await some.service.eraseUser(site, 'alice')).toEqual({ hits: 2, visits: 1, engagements: 0 });
    expect(some.sent).toEqual([{ siteId: site.id, visitorKeys: ['visitor-key'] }]);
  });
});
