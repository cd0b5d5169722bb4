import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ObjectId } from 'mongodb';
import { Types } from 'mongoose';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { HitsRepository } from '../../src/hits/hits.repository.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { SitesService } from '../../src/sites/sites.service.js';
import { RollupJob, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { insertAndSessionize, rawHit } from '../factories/hits.factory.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The rollup job's settle window: a run takes in the hits received up to now − ROLLUP_SETTLE_MS
 * and leaves later ones pending for the next run; a network domain resolved after the rollups
 * took a hit is not written, so the rows and the raw hit agree.
 */
describe('rollup settle window', () => {
  let app: TestApp;
  const clock = new FixedClock(new Date('2024-05-20T12:00:00Z'));

  beforeAll(async () => {
    app = await startTestApp({ override: (builder) => builder.overrideProvider(Clock).useValue(clock) });
    app.app.get(RollupJob).stopSchedule();
  });

  afterAll(async () => {
    await app?.close();
  });

  const stored = async (siteId: ObjectId) =>
    (await app.database.db.collection('hits').find({ siteId }).sort({ visitorKey: 1 }).toArray()).map((hit) => ({
      visitorKey: hit.visitorKey as string,
      pending: hit.rollupPending === true,
      networkDomain: (hit.networkDomain as string | undefined) ?? null,
    }));

  async function siteWithHits(name: string): Promise<{ siteId: ObjectId; ids: Types.ObjectId[] }> {
    // Past the watermark the previous test's runs left (the clock is fixed).
    clock.advance(ROLLUP_SETTLE_MS);
    const site = await app.app.get(SitesService).create({ domain: `${name}.example`, name });
    const siteId = new ObjectId(site.id);
    const receivedAgo = (ms: number) => new Date(clock.now().getTime() - ms);
    const hits = [
      rawHit(siteId, { ts: receivedAgo(ROLLUP_SETTLE_MS + 1_000), visitorKey: 'a' }),
      rawHit(siteId, { ts: receivedAgo(ROLLUP_SETTLE_MS - 1_000), visitorKey: 'b' }),
    ];
    await insertAndSessionize(app.database.db, app.app.get(SessionsService), site.id, hits);
    const ids = (await app.database.db.collection('hits').find({ siteId }).sort({ visitorKey: 1 }).toArray()).map(
      (hit) => new Types.ObjectId(hit._id.toHexString()),
    );
    return { siteId, ids };
  }

  it('takes in the hits received before now − ROLLUP_SETTLE_MS and leaves later ones for the next run', async () => {
    const { siteId } = await siteWithHits('settle');
    expect((await stored(siteId)).map((hit) => hit.pending)).toEqual([true, true]);

    await app.app.get(RollupJob).runOnce();
    expect((await stored(siteId)).map((hit) => hit.pending)).toEqual([false, true]);

    clock.advance(2_000);
    await app.app.get(RollupJob).runOnce();
    expect((await stored(siteId)).map((hit) => hit.pending)).toEqual([false, false]);
  });

  it('writes a network domain resolved after the rollups took the hit nowhere', async () => {
    const { siteId, ids } = await siteWithHits('late-domain');
    await app.app.get(RollupJob).runOnce();
    // The lookup of both hits' IP answers now: hit a is counted in the rows (as "Unknown"), hit b is not yet.
    await app.app.get(HitsRepository).setNetworkDomain(ids, 'isp.example');
    expect(await stored(siteId)).toEqual([
      { visitorKey: 'a', pending: false, networkDomain: null },
      { visitorKey: 'b', pending: true, networkDomain: 'isp.example' },
    ]);
  });
});
