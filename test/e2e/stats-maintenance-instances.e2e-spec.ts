import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ObjectId } from 'mongodb';
import { Types } from 'mongoose';
import { addDays, startOfZonedDay } from '../../src/common/time/calendar.js';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { LeaseService } from '../../src/database/leases/lease.service.js';
import { GoalsService } from '../../src/goals/goals.service.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { SitesService } from '../../src/sites/sites.service.js';
import type { Metric, StatsQuery } from '../../src/stats/query/stats-query.js';
import { RollupCoverageService } from '../../src/stats/rollups/rollup-coverage.service.js';
import { RollupJob, ROLLUP_LEASE_MS, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { StatsEngine } from '../../src/stats/stats-engine.service.js';
import { insertAndSessionize, rawHit, propertyHitTime } from '../factories/hits.factory.js';
import { canonical, derivedRows, killAt, stallAt } from '../support/maintenance-faults.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Maintenance shared by several app instances on one database. Runs go to either instance at
 * random; one may be killed at any store call and, as after `kill -9`, keeps the lease until it
 * expires, when the other (or its own restart) takes over the batch it left; both may start a run
 * at the same moment; and one may stall mid-run past its lease while the other runs, then wake up
 * and carry on with what it was doing. Whatever happens, every answer must equal the raw-hit
 * pipeline's and every derived row a from-scratch rebuild's.
 */

const METRICS: Metric[] = ['visitors', 'pageviews', 'events', 'visits', 'bounceRate', 'visitDuration'];

const hitArbitrary = fc.record({
  day: fc.integer({ min: 0, max: 6 }),
  minute: fc.integer({ min: 0, max: 1439 }),
  visitor: fc.integer({ min: 0, max: 4 }),
  pageview: fc.boolean(),
  path: fc.constantFrom('/', '/a'),
  country: fc.constantFrom('DE', null),
  // The visit's first hit decides: a later or earlier hit of the visit moves all its hits.
  source: fc.constantFrom('news.example', null, null),
  campaign: fc.constantFrom('march', null),
});
type HitSpec = typeof hitArbitrary extends fc.Arbitrary<infer T> ? T : never;

const instance = fc.constantFrom(0, 1);
const operationArbitrary = fc.oneof(
  fc.record({ op: fc.constant('ingest' as const), hits: fc.array(hitArbitrary, { minLength: 1, maxLength: 10 }) }),
  fc.record({ op: fc.constant('run' as const), on: instance }),
  fc.record({ op: fc.constant('both' as const) }),
  fc.record({ op: fc.constant('killed' as const), on: instance, step: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('stalled' as const), on: instance, step: fc.integer({ min: 1, max: 40 }) }),
);

describe('stats maintenance across instances', () => {
  const clock = new FixedClock(new Date('2024-06-01T00:00:00Z'));
  const apps: TestApp[] = [];

  beforeAll(async () => {
    apps.push(await startTestApp({ override: (builder) => builder.overrideProvider(Clock).useValue(clock) }));
    apps.push(
      await startTestApp({
        override: (builder) => builder.overrideProvider(Clock).useValue(clock),
        database: apps[0].database,
      }),
    );
    // The tests drive every run themselves.
    for (const app of apps) app.app.get(RollupJob).stopSchedule();
  }, 120_000);

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
  });

  it('answers like raw hits and holds the rows of a from-scratch build whichever instance runs, dies, races or stalls', async () => {
    const [first] = apps;
    const sites = first.app.get(SitesService);
    const coverage = first.app.get(RollupCoverageService);
    const engine = first.app.get(StatsEngine);
    const goals = first.app.get(GoalsService);
    let cases = 0;
    const seen = { killed: 0, takenOver: 0, stalled: 0, stalledLost: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(hitArbitrary, { minLength: 1, maxLength: 12 }),
        fc.array(operationArbitrary, { minLength: 2, maxLength: 8 }),
        async (firstHits, operations) => {
          cases += 1;
          clock.advance(ROLLUP_LEASE_MS + 60_000);
          const timezone = 'Europe/Berlin';
          const site = await sites.create({ domain: `instances${cases}-${Date.now()}.example`, name: 'i', timezone });
          const siteId = new ObjectId(site.id);
          const ingest = async (hits: HitSpec[]): Promise<void> => {
            const documents = hits.map((hit) =>
              rawHit(siteId, {
                ts: propertyHitTime(timezone, hit.day, hit.minute),
                receivedAt: clock.now(),
                visitorKey: `v${hit.visitor}`,
                name: hit.pageview ? 'pageview' : 'signup',
                path: hit.path,
                countryCode: hit.country,
                source: hit.source,
                utmCampaign: hit.campaign,
              }),
            );
            await insertAndSessionize(
              first.database.db,
              apps[hits.length % 2].app.get(SessionsService),
              site.id,
              documents,
            );
          };
          const job = (on: number) => apps[on].app.get(RollupJob);
          const settle = () => clock.advance(ROLLUP_SETTLE_MS + 1_000);
          const runOn = async (on: number): Promise<void> => {
            settle();
            expect((await job(on).runOnce()).ran).toBe(true);
          };

          // Conversion rows too: a goal from the start, and one created after the first run (a backfill).
          await goals.create(site.id, { pagePath: '/a' });
          await ingest(firstHits);
          await runOn(0);
          await goals.create(site.id, { eventName: 'signup' });
          for (const operation of operations) {
            switch (operation.op) {
              case 'ingest':
                await ingest(operation.hits);
                break;
              case 'run':
                await runOn(operation.on);
                break;
              case 'both': {
                settle();
                const outcomes = await Promise.all([job(0).runOnce(), job(1).runOnce()]);
                // The lease lets one of them in at a time; the other finds it held or finds nothing left.
                expect(outcomes.some((outcome) => outcome.ran)).toBe(true);
                break;
              }
              case 'killed': {
                settle();
                // As after kill -9, nothing runs after the step: not even the lease's release.
                const leases = apps[operation.on].app.get(LeaseService);
                const release = leases.release.bind(leases);
                const kill = killAt(apps[operation.on], operation.step);
                leases.release = (...args) => (kill.calls() >= operation.step ? Promise.resolve() : release(...args));
                const outcome = await job(operation.on)
                  .runOnce()
                  .then(
                    () => 'completed',
                    (error: unknown) => String(error),
                  )
                  .finally(() => {
                    kill.restore();
                    leases.release = release;
                  });
                if (outcome === 'completed') break;
                expect(outcome).toContain(`killed at step ${operation.step}`);
                seen.killed += 1;
                // The other instance cannot take over until the dead one's lease expires.
                expect((await job(1 - operation.on).runOnce()).ran).toBe(false);
                clock.advance(ROLLUP_LEASE_MS + 1_000);
                await runOn(1 - operation.on);
                seen.takenOver += 1;
                break;
              }
              case 'stalled': {
                settle();
                const stall = stallAt(apps[operation.on], operation.step);
                const stalledRun = job(operation.on)
                  .runOnce()
                  .then(
                    () => 'completed',
                    (error: unknown) => String(error),
                  );
                const held = await Promise.race([stall.reached.then(() => true), stalledRun.then(() => false)]);
                if (held) {
                  seen.stalled += 1;
                  // Its lease expires while it is frozen; the other instance runs meanwhile.
                  await ingest([
                    {
                      day: 1,
                      minute: 600,
                      visitor: 0,
                      pageview: true,
                      path: '/',
                      country: 'DE',
                      source: null,
                      campaign: null,
                    },
                  ]);
                  clock.advance(ROLLUP_LEASE_MS + 1_000);
                  settle();
                  expect((await job(1 - operation.on).runOnce()).ran).toBe(true);
                }
                stall.resume();
                const outcome = await stalledRun.finally(() => stall.restore());
                if (outcome !== 'completed') {
                  expect(outcome).toContain('Lost the rollup lease');
                  seen.stalledLost += 1;
                }
                break;
              }
            }
          }
          // Whatever was left half done, one more run on each instance finishes it.
          await runOn(1);
          await runOn(0);

          for (const dimensions of [[], ['country'], ['page'], ['source'], ['utm_campaign'], ['entry_page']] as const) {
            const from = { year: 2024, month: 5, day: 1 };
            const query: StatsQuery = {
              siteId: new Types.ObjectId(site.id),
              timezone,
              start: startOfZonedDay(from, timezone),
              end: startOfZonedDay(addDays(from, 7), timezone),
              classification: 'USER',
              filters: [],
              dimensions: [...dimensions],
              interval: 'day',
            };
            const answer = canonical(await engine.run(query, METRICS));
            const plan = coverage.plan.bind(coverage);
            coverage.plan = () => Promise.resolve({ source: 'raw' });
            try {
              expect(answer).toEqual(canonical(await engine.run(query, METRICS)));
            } finally {
              coverage.plan = plan;
            }
          }
          const incremental = await derivedRows(first, siteId);
          await first.app.get(RollupRepository).markSiteForRebuild(site.id);
          await runOn(1);
          expect(incremental).toEqual(await derivedRows(first, siteId));
        },
      ),
      { numRuns: 20 },
    );
    // The cases reached what they are about: runs killed and taken over by the other instance.
    expect(seen.killed).toBeGreaterThan(0);
    expect(seen.takenOver).toBe(seen.killed);
    expect(seen.stalled).toBeGreaterThan(0);
  }, 900_000);
});
