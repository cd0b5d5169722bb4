import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import { RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { storedVisitorRowFields } from '../../src/stats/rollups/visitor-row-names.js';
import { MARK_CHUNK, VisitChangesRepository } from '../../src/sessions/visit-changes.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Reads that cover a whole site (a rebuild marks every visit; closing a week lists its visitors)
 * go through cursors, not `distinct`, whose single 16 MB answer a large site outgrows. These
 * check that the cursor-fed versions take in every value, across chunk boundaries, and nothing
 * of another site or day.
 */
describe('site-wide reads through cursors', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });

  afterAll(async () => {
    await app.close();
  });

  it('marks every visit of the site, more than one bulk write of them, and no other site’s', async () => {
    const site = new Types.ObjectId();
    const other = new Types.ObjectId();
    const ids = Array.from({ length: 2 * MARK_CHUNK + 7 }, (_, index) => `v${String(index).padStart(6, '0')}`);
    const visits = app.database.db.collection<{ _id: string; siteId: Types.ObjectId }>('visits');
    await visits.insertMany(ids.map((_id) => ({ _id, siteId: site })));
    await visits.insertMany(['o1', 'o2'].map((_id) => ({ _id, siteId: other })));

    await app.app.get(VisitChangesRepository).markSite(site);

    const marked = await app.database.db
      .collection<{ _id: string; siteId: Types.ObjectId; pending: unknown }>('visit_changes')
      .find({ siteId: { $in: [site, other] } })
      .sort({ _id: 1 })
      .toArray();
    expect(marked.length).toBe(ids.length);
    expect(marked.map((change) => change._id)).toEqual(ids);
    expect(marked.every((change) => change.pending === true && change.siteId.equals(site))).toBe(true);
  });

  it('lists each visitor of the days once, whatever their rows, and only of those days and that site', async () => {
    const site = new Types.ObjectId();
    const rows = app.database.db.collection('stats_visitor_days');
    const row = (siteId: Types.ObjectId, day: string, visitorKey: string, page: string) => ({
      _id: new Types.ObjectId(),
      ...storedVisitorRowFields({ siteId, day, visitorKey, page }),
    });
    await rows.insertMany([
      row(site, '2026-11-30', 'a', '/'),
      row(site, '2026-11-30', 'a', '/pricing'),
      row(site, '2026-12-01', 'a', '/'),
      row(site, '2026-12-01', 'b', '/'),
      row(site, '2026-12-06', 'c', '/'),
      row(site, '2026-12-07', 'outside', '/'),
      row(new Types.ObjectId(), '2026-12-01', 'other-site', '/'),
    ]);

    const week = ['2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06'];
    const visitors = await app.app.get(RollupRepository).findVisitorsOfDays(site.toHexString(), week);

    expect([...visitors].sort()).toEqual(['a', 'b', 'c']);
  });
});
