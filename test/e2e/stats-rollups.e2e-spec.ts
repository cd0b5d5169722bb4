import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { Binary, ObjectId, type Db } from 'mongodb';
import { Types } from 'mongoose';
import { Clock, FixedClock } from '../../src/common/time/clock.js';
import { SitesService } from '../../src/sites/sites.service.js';
import type { Dimension } from '../../src/stats/query/dimensions.js';
import type { ClassificationFilter, Filter, Interval, StatsQuery } from '../../src/stats/query/stats-query.js';
import { RollupCoverageService } from '../../src/stats/rollups/rollup-coverage.service.js';
import { LeaseService } from '../../src/database/leases/lease.service.js';
import { RollupJob, ROLLUP_LEASE, ROLLUP_SETTLE_MS } from '../../src/stats/rollups/rollup.job.js';
import { ROLLUP_VERSION, RollupRepository } from '../../src/stats/rollups/rollup.repository.js';
import { VISITOR_COUNT_KEYS } from '../../src/stats/rollups/visitor-count-keys.js';
import { USER_STATS_SET, VISITOR_SETS } from '../../src/stats/pipelines/rollup.pipeline.js';
import { storedVisitorRowField, visitorRowOf } from '../../src/stats/rollups/visitor-row-names.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { HitsRepository } from '../../src/hits/hits.repository.js';
import { StatsRepository, type HitMetricsRow, type VisitMetricsRow } from '../../src/stats/stats.repository.js';
import { startOfZonedDay, addDays } from '../../src/common/time/calendar.js';
import { insertAndSessionize, insertHits, rawHit, type RawHit, propertyHitTime } from '../factories/hits.factory.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Half-hour and 45-minute offsets included (Adelaide +9:30/+10:30, Chatham +12:45/+13:45).
const ZONES = ['UTC', 'America/New_York', 'Australia/Adelaide', 'Europe/Berlin', 'Pacific/Chatham'];
// Hit-level rolled-up dimensions: the visit-level ones (source, UTM, entry page) have a property of their own below.
const DIMENSIONS: Dimension[] = ['page', 'country', 'city', 'device', 'classification', 'page_host'];
const MAY_START = Date.parse('2024-05-01T00:00:00Z');
const MAY_MS = 31 * 86_400_000;

const hitArbitrary = fc.record({
  offsetMs: fc.integer({ min: 0, max: MAY_MS - 1 }),
  visitor: fc.integer({ min: 0, max: 7 }),
  bot: fc.boolean(),
  pageview: fc.boolean(),
  path: fc.constantFrom('/', '/a', '/b/c', '/Pricing'),
  country: fc.constantFrom('DE', 'FR', null),
  city: fc.constantFrom('Paris', 'Berlin', null),
  device: fc.constantFrom('desktop', 'mobile', null),
  host: fc.constantFrom('example.com', 'shop.example.com'),
  /** Received after the rollup's settle window: must be read from raw hits. */
  late: fc.boolean(),
  identified: fc.boolean(),
});

const filter = (operator: Filter['operator'], dimension: Dimension, values: string[]): Filter => ({
  operator,
  dimension,
  values,
});
const filterArbitrary: fc.Arbitrary<Filter> = fc.oneof(
  fc.subarray(['DE', 'FR'], { minLength: 1 }).map((values) => filter('is', 'country', values)),
  fc.constant(filter('is_not', 'device', ['mobile'])),
  fc.constant(filter('contains', 'page', ['PRIC'])),
  fc.constant(filter('not_contains', 'page', ['/b'])),
);

const queryArbitrary = fc.record({
  fromDay: fc.integer({ min: 0, max: 30 }),
  length: fc.integer({ min: 1, max: 31 }),
  dimensions: fc.subarray(DIMENSIONS, { maxLength: 2 }),
  filters: fc.array(filterArbitrary, { maxLength: 2 }),
  interval: fc.constantFrom<Interval | undefined>(undefined, 'day', 'week', 'month'),
  classification: fc.constantFrom<ClassificationFilter>('USER', 'BOT', 'ALL'),
  withClassification: fc.boolean(),
});

function canonical(rows: HitMetricsRow[], fields: string[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify([
        fields.map((field) => row.key?.[field] ?? null),
        row.visitors,
        row.pageviews,
        row.events,
        row.botHits,
      ]),
    )
    .sort();
}

/** Hits of a few visitors packed into a few days, so visits of several hits, bounces and midnight crossings are common. */
const visitHitArbitrary = fc.record({
  day: fc.integer({ min: 0, max: 4 }),
  // Half of the hits within 40 minutes of a local midnight: late hits that extend or merge a visit
  // started the day before are what the job's choice of days to recompute must catch.
  minute: fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: -40, max: 40 })),
  secondsExtra: fc.integer({ min: 0, max: 59_999 }),
  visitor: fc.integer({ min: 0, max: 2 }),
  bot: fc.boolean(),
  pageview: fc.boolean(),
});

const visitQueryArbitrary = fc.record({
  fromDay: fc.integer({ min: 0, max: 4 }),
  length: fc.integer({ min: 1, max: 6 }),
  interval: fc.constantFrom<Interval | undefined>(undefined, 'hour', 'day', 'week', 'month'),
  classification: fc.constantFrom<ClassificationFilter>('USER', 'BOT', 'ALL'),
});

function canonicalVisits(rows: VisitMetricsRow[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify([row.key?.time ?? null, row.visits, row.bounces, row.durationSeconds, row.visitPageviews]),
    )
    .sort();
}

/** Page views, events and bot hits only: what the hit-hour counts answer. */
function canonicalCounts(rows: HitMetricsRow[], fields: string[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify([fields.map((field) => row.key?.[field] ?? null), row.pageviews, row.events, row.botHits]),
    )
    .sort();
}

/**
 * Hits of a few visitors over ten days who switch values (several per day) and classification
 * across days, with gaps: what makes a visitor's previous active day per value interesting.
 */
const countedHitArbitrary = fc.record({
  // 1–21 May 2024: a Wednesday to a Tuesday, with the whole weeks of 6 and 13 May (weekly counts).
  day: fc.integer({ min: 0, max: 20 }),
  minute: fc.integer({ min: 0, max: 1439 }),
  visitor: fc.integer({ min: 0, max: 5 }),
  bot: fc.boolean(),
  pageview: fc.boolean(),
  path: fc.constantFrom('/', '/a', '/b'),
  place: fc.constantFrom(['DE', 'Berlin', 'BE'], ['DE', null, null], ['FR', 'Paris', 'IDF'], [null, null, null]),
  networkDomain: fc.constantFrom('isp.example', null),
});

const countQueryArbitrary = fc.record({
  // Often ending on the newest day, where hits may still be settling.
  toDay: fc.oneof(fc.constant(9), fc.integer({ min: 0, max: 23 })),
  length: fc.integer({ min: 1, max: 24 }),
  key: fc.constantFrom(...VISITOR_COUNT_KEYS.map((key) => key.dimensions)),
  interval: fc.constantFrom<Interval | undefined>(undefined, 'day', 'week', 'month'),
  classification: fc.constantFrom<ClassificationFilter>('USER', 'BOT', 'ALL'),
});

/**
 * Hits of a few visitors over two weeks (the whole week of 6 May included, for week rows), half of
 * them near a local midnight, with a source and campaign on some: a late hit before a visit's first
 * hit, or one joining two visits, moves the visit's hits to other values after they were counted.
 */
const attributedHitArbitrary = fc.record({
  day: fc.integer({ min: 0, max: 13 }),
  minute: fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: -40, max: 40 })),
  visitor: fc.integer({ min: 0, max: 3 }),
  bot: fc.boolean(),
  pageview: fc.boolean(),
  path: fc.constantFrom('/', '/a', '/b'),
  source: fc.constantFrom('news.example', 'search.example', null, null),
  campaign: fc.constantFrom('march', 'april', null),
});

const attributionQueryArbitrary = fc.record({
  fromDay: fc.integer({ min: 0, max: 13 }),
  length: fc.integer({ min: 1, max: 14 }),
  dimension: fc.constantFrom<Dimension>('source', 'referrer', 'utm_campaign', 'entry_page'),
  interval: fc.constantFrom<Interval | undefined>(undefined, 'day', 'week', 'month'),
  classification: fc.constantFrom<ClassificationFilter>('USER', 'BOT', 'ALL'),
});

function canonicalVisitsBy(rows: VisitMetricsRow[], fields: string[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify([
        fields.map((field) => row.key?.[field] ?? null),
        row.visits,
        row.bounces,
        row.durationSeconds,
        row.visitPageviews,
      ]),
    )
    .sort();
}

/**
 * The rows the answers below are read from are in their compact shape (docs/storage.md): batch
 * numbers as `b` and `f`, the visitor rows' visitor, classification, sums and hit times under
 * their short names (none under its long name), `identified` only when 1, visit contributions
 * with a numeric hour and positional attribution keys. The exactness checks then hold for that
 * shape, not an older one.
 */
async function expectCompactRows(db: Db, siteId: ObjectId): Promise<void> {
  for (const name of ['stats_visitor_days', 'stats_visitor_sets', 'stats_hit_hours', 'stats_hit_days']) {
    expect(await db.collection(name).countDocuments({ siteId, b: { $exists: false } })).toBe(0);
    expect(await db.collection(name).countDocuments({ siteId, lastBatch: { $exists: true } })).toBe(0);
  }
  expect(await db.collection('stats_visitor_days').countDocuments({ siteId, f: { $exists: false } })).toBe(0);
  const longNames = ['visitorKey', 'classification', 'pageviews', 'events', 'firstTs', 'lastTs', 'identified'];
  for (const name of ['stats_visitor_days', 'stats_visitor_sets']) {
    const rows = await db.collection(name).find({ siteId }).toArray();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => longNames.some((field) => field in row))).toEqual([]);
    for (const field of ['visitorKey', 'classification', 'pageviews', 'events'])
      expect(rows.every((row) => storedVisitorRowField(field) in row)).toBe(true);
  }
  const userStatsRows = await db.collection('stats_visitor_sets').find({ siteId, set: USER_STATS_SET }).toArray();
  expect(userStatsRows.every((row) => row[storedVisitorRowField('firstTs')] instanceof Date)).toBe(true);
  expect(userStatsRows.filter((row) => ![undefined, 1].includes(row[storedVisitorRowField('identified')]))).toEqual([]);
  for (const { current } of await db.collection('stats_visit_contributions').find({ siteId }).toArray()) {
    expect(typeof current.h).toBe('number');
    expect(current.c).not.toBe('USER');
    expect(Object.keys(current.a ?? {}).every((key) => /^\d+$/.test(key))).toBe(true);
  }
}

describe('stats rollups', () => {
  let app: TestApp;
  let clock: FixedClock;

  beforeAll(async () => {
    clock = new FixedClock(new Date('2024-06-01T00:00:00Z'));
    app = await startTestApp({ override: (builder) => builder.overrideProvider(Clock).useValue(clock) });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers exactly like the raw-hit pipeline on random data, sites, zones and queries', async () => {
    const sites = app.app.get(SitesService);
    const job = app.app.get(RollupJob);
    const coverageService = app.app.get(RollupCoverageService);
    const repository = app.app.get(StatsRepository);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.array(hitArbitrary, { minLength: 1, maxLength: 60 }),
        fc.array(queryArbitrary, { minLength: 1, maxLength: 4 }),
        async (timezone, hits, queries) => {
          runs += 1;
          // Every run moves time on, so the previous run's late hits have settled by now.
          clock.advance(2 * 3_600_000);
          const site = await sites.create({ domain: `prop${runs}-${Date.now()}.example`, name: 'prop', timezone });
          const siteId = new ObjectId(site.id);
          const now = clock.now().getTime();
          // The first hit is always settled: a site whose every hit is still settling has no rollup yet and is read raw.
          const documents: RawHit[] = hits.map((hit, index) =>
            rawHit(siteId, {
              ts: new Date(MAY_START + hit.offsetMs),
              receivedAt: new Date(hit.late && index > 0 ? now : now - ROLLUP_SETTLE_MS - 60_000),
              visitorKey: `v${hit.visitor}`,
              classification: hit.bot ? 'BOT' : 'USER',
              name: hit.pageview ? 'pageview' : 'signup',
              path: hit.path,
              countryCode: hit.country,
              city: hit.city,
              device: hit.device,
              host: hit.host,
              ...(hit.identified ? { userKey: `u${hit.visitor}` } : {}),
            }),
          );
          await insertHits(app.database.db, documents);
          expect((await job.runOnce()).ran).toBe(true);
          await expectCompactRows(app.database.db, siteId);

          const userStatsInput = { siteId: new Types.ObjectId(site.id), now: new Date(MAY_START + 20 * 86_400_000) };
          const facts = await coverageService.facts(userStatsInput.siteId, timezone, false);
          expect(facts.usable).toBe(true);
          const unsettled = facts.unsettledHitDays;
          expect(await repository.findUserStatsFromRollup(userStatsInput, unsettled!)).toEqual(
            await repository.findUserStats(userStatsInput),
          );

          for (const spec of queries) {
            const from = addDays({ year: 2024, month: 5, day: 1 }, spec.fromDay);
            const query: StatsQuery = {
              siteId: new Types.ObjectId(site.id),
              timezone,
              start: startOfZonedDay(from, timezone),
              end: startOfZonedDay(addDays(from, spec.length), timezone),
              classification: spec.classification,
              filters: spec.filters,
              dimensions: spec.dimensions,
              interval: spec.interval,
            };
            const coverage = (await coverageService.planOf('visitors', query, 'visitor-rows'))?.coverage;
            expect(coverage).toBeDefined();
            const options = { classification: spec.withClassification };
            const fields = [...spec.dimensions, ...(spec.interval ? ['time'] : [])];
            const raw = await repository.aggregateHitMetrics(query, options);
            const rolled = await repository.aggregateRollupHitMetrics(query, coverage!, options);
            expect(canonical(rolled, fields)).toEqual(canonical(raw, fields));

            // Counts without visitors, also per hour; every query here holds at most two dimensions
            // or filters, so a narrow set covers it unless it combines two sets' fields.
            for (const countQuery of [query, { ...query, interval: 'hour' as const }]) {
              const counts = (await coverageService.planOf('hit-counts', countQuery, 'hit-counts'))?.coverage;
              if (!counts) continue;
              const countFields = [...spec.dimensions, ...(countQuery.interval ? ['time'] : [])];
              expect(
                canonicalCounts(await repository.aggregateRollupHitCounts(countQuery, counts, options), countFields),
              ).toEqual(canonicalCounts(await repository.aggregateHitMetrics(countQuery, options), countFields));
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  it('counts distinct visitors and hits from the visitor counts exactly like raw hits, through late hits, purges and unsettled days', async () => {
    const sites = app.app.get(SitesService);
    const job = app.app.get(RollupJob);
    const rollups = app.app.get(RollupRepository);
    const coverageService = app.app.get(RollupCoverageService);
    const repository = app.app.get(StatsRepository);
    let runs = 0;
    let fromCounts = 0;
    let withTail = 0;
    let withWeeks = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.array(countedHitArbitrary, { minLength: 1, maxLength: 50 }),
        // Few enough days to take the job's per-visitor path, and often before days already counted.
        fc.array(countedHitArbitrary, { minLength: 1, maxLength: 4 }),
        fc.subarray([0, 1, 2, 3, 4, 5]),
        fc.array(
          countedHitArbitrary.map((hit) => ({ ...hit, day: 8 + (hit.day % 2) })),
          { maxLength: 6 },
        ),
        fc.array(countQueryArbitrary, { minLength: 1, maxLength: 4 }),
        async (timezone, firstHits, lateHits, purged, unsettledHits, queries) => {
          runs += 1;
          clock.advance(2 * 3_600_000);
          const site = await sites.create({ domain: `counts${runs}-${Date.now()}.example`, name: 'counts', timezone });
          const siteId = new ObjectId(site.id);
          const ingest = async (batch: typeof firstHits, receivedAt: Date): Promise<void> =>
            insertHits(
              app.database.db,
              batch.map((hit) =>
                rawHit(siteId, {
                  ts: propertyHitTime(timezone, hit.day, hit.minute),
                  receivedAt,
                  visitorKey: `v${hit.visitor}`,
                  classification: hit.bot ? 'BOT' : 'USER',
                  name: hit.pageview ? 'pageview' : 'signup',
                  path: hit.path,
                  countryCode: hit.place[0],
                  city: hit.place[1],
                  region: hit.place[2],
                  networkDomain: hit.networkDomain,
                }),
              ),
            );
          const settledNow = () => new Date(clock.now().getTime() - ROLLUP_SETTLE_MS - 60_000);
          const compare = async (expectCoverage: boolean): Promise<void> => {
            for (const spec of queries) {
              const from = addDays({ year: 2024, month: 5, day: 1 }, spec.toDay - spec.length + 1);
              const query: StatsQuery = {
                siteId: new Types.ObjectId(site.id),
                timezone,
                start: startOfZonedDay(from, timezone),
                end: startOfZonedDay(addDays(from, spec.length), timezone),
                classification: spec.classification,
                filters: [],
                dimensions: [...spec.key],
                interval: spec.interval,
              };
              const coverage = (await coverageService.planOf('visitors', query, 'visitor-counts'))?.coverage;
              if (expectCoverage) {
                expect(coverage).toBeDefined();
                expect(coverage?.tail).toBeUndefined();
              }
              if (!coverage) continue;
              fromCounts += 1;
              if (coverage.tail) withTail += 1;
              if (coverage.weeks.length > 0) withWeeks += 1;
              const fields = [...spec.key, ...(spec.interval ? ['time'] : [])];
              expect(canonical(await repository.aggregateHitMetricsFromCounts(query, coverage), fields)).toEqual(
                canonical(await repository.aggregateHitMetrics(query, { classification: true }), fields),
              );
            }
          };

          await ingest(firstHits, settledNow());
          expect((await job.runOnce()).ran).toBe(true);
          await compare(true);
          // Late, out-of-order hits: days before and between days already counted.
          clock.advance(ROLLUP_SETTLE_MS * 3);
          await ingest(lateHits, settledNow());
          expect((await job.runOnce()).ran).toBe(true);
          await compare(true);
          if (purged.length > 0) {
            await app.database.db
              .collection('hits')
              .deleteMany({ siteId, visitorKey: { $in: purged.map((v) => `v${v}`) } });
            await rollups.markSiteForRebuild(site.id);
            clock.advance(ROLLUP_SETTLE_MS * 3);
            expect((await job.runOnce()).ran).toBe(true);
            await compare(true);
          }
          // Hits still settling on the newest days: read raw, each visitor counted unless already seen.
          await ingest(unsettledHits, clock.now());
          await compare(false);
        },
      ),
      { numRuns: 30 },
    );
    // Not vacuous: most queries went through the counts, some with an unsettled tail, some with week rows.
    expect(fromCounts).toBeGreaterThan(runs);
    expect(withTail).toBeGreaterThan(0);
    expect(withWeeks).toBeGreaterThan(0);
  }, 240_000);

  it('counts visitors, hits and visits by source, referrer, UTM and entry page from the attribution rows exactly like raw hits, as late hits move visits to other values', async () => {
    const sites = app.app.get(SitesService);
    const sessions = app.app.get(SessionsService);
    const job = app.app.get(RollupJob);
    const coverageService = app.app.get(RollupCoverageService);
    const repository = app.app.get(StatsRepository);
    let runs = 0;
    let fromRows = 0;
    let withWeeks = 0;
    let withTail = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.array(attributedHitArbitrary, { minLength: 1, maxLength: 40 }),
        fc.array(attributedHitArbitrary, { minLength: 1, maxLength: 12 }),
        fc.array(attributionQueryArbitrary, { minLength: 1, maxLength: 5 }),
        async (timezone, firstHits, lateHits, queries) => {
          runs += 1;
          clock.advance(2 * 3_600_000);
          const site = await sites.create({ domain: `sources${runs}-${Date.now()}.example`, name: 'src', timezone });
          const siteId = new ObjectId(site.id);
          const ingest = async (batch: typeof firstHits, receivedAt: Date): Promise<void> => {
            const documents = batch.map((hit) =>
              rawHit(siteId, {
                ts: propertyHitTime(timezone, hit.day, hit.minute),
                receivedAt,
                visitorKey: `v${hit.visitor}`,
                classification: hit.bot ? 'BOT' : 'USER',
                name: hit.pageview ? 'pageview' : 'signup',
                path: hit.path,
                source: hit.source,
                referrer: hit.source && `https://${hit.source}/`,
                utmCampaign: hit.campaign,
              }),
            );
            await insertAndSessionize(app.database.db, sessions, site.id, documents);
          };
          const compare = async (expectRows: boolean): Promise<void> => {
            for (const spec of queries) {
              const from = addDays({ year: 2024, month: 5, day: 1 }, spec.fromDay);
              const query: StatsQuery = {
                siteId: new Types.ObjectId(site.id),
                timezone,
                start: startOfZonedDay(from, timezone),
                end: startOfZonedDay(addDays(from, spec.length), timezone),
                classification: spec.classification,
                filters: [],
                dimensions: [spec.dimension],
                interval: spec.interval,
              };
              const fields = [spec.dimension, ...(spec.interval ? ['time'] : [])];
              const counts = (await coverageService.planOf('visitors', query, 'visitor-counts'))?.coverage;
              const visits = (await coverageService.planOf('visits', query, 'visit-sources'))?.coverage;
              if (expectRows) {
                expect(counts).toBeDefined();
                expect(visits?.rawDays).toEqual([]);
              }
              if (counts) {
                fromRows += 1;
                if (counts.weeks.length > 0) withWeeks += 1;
                if (counts.tail) withTail += 1;
                expect(canonical(await repository.aggregateHitMetricsFromCounts(query, counts), fields)).toEqual(
                  canonical(await repository.aggregateHitMetrics(query, { classification: true }), fields),
                );
              }
              if (visits)
                expect(
                  canonicalVisitsBy(
                    await repository.aggregateRollupVisitMetrics(query, visits, 'visit-sources'),
                    fields,
                  ),
                ).toEqual(canonicalVisitsBy(await repository.aggregateVisitMetrics(query), fields));
            }
          };

          await ingest(firstHits, new Date(clock.now().getTime() - ROLLUP_SETTLE_MS - 60_000));
          expect((await job.runOnce()).ran).toBe(true);
          await compare(true);
          // Late hits, received now: the days of every visit they touch are read raw meanwhile, as
          // a tail when they are the range's last two (or a query is read raw entirely).
          await ingest(lateHits, clock.now());
          await compare(false);
          // Live traffic on the newest days: a raw tail after the rows, each visitor counted unless
          // already active under the same value in the settled days of its bucket.
          await ingest(
            lateHits.map((hit) => ({ ...hit, day: 12 + (hit.day % 2) })),
            clock.now(),
          );
          await compare(false);
          // Once they have settled, the job has moved the visits they changed to their new values.
          clock.advance(ROLLUP_SETTLE_MS + 1_000);
          expect((await job.runOnce()).ran).toBe(true);
          await compare(true);
        },
      ),
      { numRuns: 25 },
    );
    // Not vacuous: the rows answered, some reads with week rows, some with a raw tail.
    expect(fromRows).toBeGreaterThan(runs * 2);
    expect(withWeeks).toBeGreaterThan(0);
    expect(withTail).toBeGreaterThan(0);
  }, 240_000);

  it('answers visit metrics exactly like the visits collection, also after late hits extend and merge visits', async () => {
    const sites = app.app.get(SitesService);
    const sessions = app.app.get(SessionsService);
    const job = app.app.get(RollupJob);
    const coverageService = app.app.get(RollupCoverageService);
    const repository = app.app.get(StatsRepository);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ZONES),
        fc.array(visitHitArbitrary, { minLength: 1, maxLength: 40 }),
        fc.array(visitHitArbitrary, { minLength: 1, maxLength: 15 }),
        fc.array(visitQueryArbitrary, { minLength: 1, maxLength: 4 }),
        async (timezone, firstHits, lateHits, queries) => {
          runs += 1;
          clock.advance(2 * 3_600_000);
          const site = await sites.create({ domain: `visits${runs}-${Date.now()}.example`, name: 'visits', timezone });
          const siteId = new ObjectId(site.id);
          const ingest = async (batch: typeof firstHits, receivedAt: Date): Promise<void> => {
            const documents = batch.map((hit) =>
              rawHit(siteId, {
                ts: propertyHitTime(timezone, hit.day, hit.minute, hit.secondsExtra),
                receivedAt,
                visitorKey: `v${hit.visitor}`,
                classification: hit.bot ? 'BOT' : 'USER',
                name: hit.pageview ? 'pageview' : 'signup',
              }),
            );
            await insertAndSessionize(app.database.db, sessions, site.id, documents);
          };
          const compare = async (): Promise<void> => {
            for (const spec of queries) {
              const from = addDays({ year: 2024, month: 5, day: 1 }, spec.fromDay);
              const query: StatsQuery = {
                siteId: new Types.ObjectId(site.id),
                timezone,
                start: startOfZonedDay(from, timezone),
                end: startOfZonedDay(addDays(from, spec.length), timezone),
                classification: spec.classification,
                filters: [],
                dimensions: [],
                interval: spec.interval,
              };
              const coverage = (await coverageService.planOf('visits', query, 'visit-hours'))?.coverage;
              expect(coverage).toBeDefined();
              expect(canonicalVisits(await repository.aggregateRollupVisitMetrics(query, coverage!))).toEqual(
                canonicalVisits(await repository.aggregateVisitMetrics(query)),
              );
            }
          };

          await ingest(firstHits, new Date(clock.now().getTime() - ROLLUP_SETTLE_MS - 60_000));
          expect((await job.runOnce()).ran).toBe(true);
          await compare();
          // Late hits, received now: still settling, so the days their visits touch are read raw.
          await ingest(lateHits, clock.now());
          await compare();
          // Once they have settled, the job has folded them into the rows.
          clock.advance(ROLLUP_SETTLE_MS + 1_000);
          expect((await job.runOnce()).ran).toBe(true);
          const settled = (
            await coverageService.planOf(
              'visits',
              {
                siteId: new Types.ObjectId(site.id),
                timezone,
                start: new Date(MAY_START - 2 * 86_400_000),
                end: new Date(MAY_START + 7 * 86_400_000),
                classification: 'ALL',
                filters: [],
                dimensions: [],
              },
              'visit-hours',
            )
          )?.coverage;
          expect(settled?.rawDays).toEqual([]);
          await compare();
        },
      ),
      { numRuns: 20 },
    );
  }, 180_000);

  it('recomputes the day a visit started on when a late hit after midnight extends it or merges two visits', async () => {
    const sites = app.app.get(SitesService);
    const sessions = app.app.get(SessionsService);
    clock.advance(3_600_000);
    const site = await sites.create({ domain: `midnight-${Date.now()}.example`, name: 'midnight' });
    const siteId = new ObjectId(site.id);
    const ingest = async (times: string[], receivedAt: Date): Promise<void> => {
      const documents = times.map((ts) => rawHit(siteId, { ts: new Date(ts), receivedAt, visitorKey: 'night' }));
      await insertHits(app.database.db, documents);
      await sessions.markDirty(
        documents.map((hit) => ({
          siteId: new Types.ObjectId(site.id),
          visitorKey: 'night',
          from: hit.ts,
          to: hit.ts,
        })),
      );
      await sessions.flush(site.id);
    };
    const query: StatsQuery = {
      siteId: new Types.ObjectId(site.id),
      timezone: 'UTC',
      start: new Date('2024-05-10T00:00:00Z'),
      end: new Date('2024-05-13T00:00:00Z'),
      classification: 'ALL',
      filters: [],
      dimensions: [],
      interval: 'day',
    };
    const rolledUp = async () => {
      const coverage = (await app.app.get(RollupCoverageService).planOf('visits', query, 'visit-hours'))?.coverage;
      expect(coverage?.rawDays).toEqual([]);
      const rows = await app.app.get(StatsRepository).aggregateRollupVisitMetrics(query, coverage!);
      return rows.map((row) => [row.key?.time, row.visits, row.bounces, row.durationSeconds]).sort();
    };
    const settle = async () => {
      clock.advance(ROLLUP_SETTLE_MS + 1_000);
      await app.app.get(RollupJob).runOnce();
    };

    // Two visits: 23:50 on the 10th (one hit) and 00:50 on the 11th (one hit).
    await ingest(['2024-05-10T23:50:00Z', '2024-05-11T00:50:00Z'], clock.now());
    await settle();
    expect(await rolledUp()).toEqual([
      ['2024-05-10', 1, 1, 0],
      ['2024-05-11', 1, 1, 0],
    ]);
    // 00:15 extends the first visit (it still starts on the 10th) and 00:30 bridges it to the second.
    await ingest(['2024-05-11T00:15:00Z', '2024-05-11T00:30:00Z'], clock.now());
    await settle();
    expect(await rolledUp()).toEqual([['2024-05-10', 1, 0, 3600]]);
  });

  it('keeps distinct visitors exact across days: one visitor on three days is one visitor', async () => {
    const sites = app.app.get(SitesService);
    clock.advance(3_600_000);
    const site = await sites.create({ domain: `distinct-${Date.now()}.example`, name: 'distinct' });
    const siteId = new ObjectId(site.id);
    const received = new Date(clock.now().getTime() - 2 * ROLLUP_SETTLE_MS);
    await insertHits(
      app.database.db,
      ['2024-05-01T10:00:00Z', '2024-05-02T10:00:00Z', '2024-05-03T10:00:00Z'].map((ts) =>
        rawHit(siteId, { ts: new Date(ts), receivedAt: received, visitorKey: 'same' }),
      ),
    );
    await app.app.get(RollupJob).runOnce();
    const rows = (
      await app.database.db.collection('stats_visitor_days').find({ siteId }).sort({ day: 1 }).toArray()
    ).map((row) => visitorRowOf<{ day: string; visitorKey: string; pageviews: number }>(row));
    // One row per day for the visitor: 3 rows, each 1 page view
    expect(rows.map((row) => [row.day, row.visitorKey, row.pageviews])).toEqual([
      ['2024-05-01', 'same', 1],
      ['2024-05-02', 'same', 1],
      ['2024-05-03', 'same', 1],
    ]);
    const query: StatsQuery = {
      siteId: new Types.ObjectId(site.id),
      timezone: 'UTC',
      start: new Date('2024-05-01T00:00:00Z'),
      end: new Date('2024-05-04T00:00:00Z'),
      classification: 'USER',
      filters: [],
      dimensions: [],
    };
    const coverage = (await app.app.get(RollupCoverageService).planOf('visitors', query, 'visitor-rows'))?.coverage;
    expect(coverage?.rawDays).toEqual([]);
    const [total] = await app.app
      .get(StatsRepository)
      .aggregateRollupHitMetrics(query, coverage!, { classification: true });
    expect(total).toMatchObject({ visitors: 1, pageviews: 3, events: 3 });
  });

  it('reads a site raw while it awaits a rebuild, and the job rebuilds it', async () => {
    const sites = app.app.get(SitesService);
    const rollups = app.app.get(RollupRepository);
    clock.advance(3_600_000);
    const site = await sites.create({ domain: `rebuild-${Date.now()}.example`, name: 'rebuild' });
    const siteId = new ObjectId(site.id);
    await insertHits(app.database.db, [
      rawHit(siteId, {
        ts: new Date('2024-05-05T10:00:00Z'),
        receivedAt: new Date(clock.now().getTime() - 2 * ROLLUP_SETTLE_MS),
        visitorKey: 'a',
      }),
    ]);
    await app.app.get(RollupJob).runOnce();
    const query: StatsQuery = {
      siteId: new Types.ObjectId(site.id),
      timezone: 'UTC',
      start: new Date('2024-05-05T00:00:00Z'),
      end: new Date('2024-05-06T00:00:00Z'),
      classification: 'ALL',
      filters: [],
      dimensions: [],
    };
    const coverage = app.app.get(RollupCoverageService);
    expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeDefined();
    await rollups.markSiteForRebuild(site.id);
    expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeUndefined();
    clock.advance(60_000);
    await app.app.get(RollupJob).runOnce();
    expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeDefined();
    // Another zone than the rows were built in: not usable.
    expect(
      (await coverage.planOf('visitors', { ...query, timezone: 'Asia/Tokyo' }, 'visitor-rows'))?.coverage,
    ).toBeUndefined();
  });

  it('resumes a rebuild a failed run began instead of starting it over, unless a purge asked for another since', async () => {
    const sites = app.app.get(SitesService);
    const job = app.app.get(RollupJob);
    const hitsRepository = app.app.get(HitsRepository);
    const sessions = app.app.get(SessionsService);
    clock.advance(3_600_000);
    const site = await sites.create({ domain: `resume-${Date.now()}.example`, name: 'resume' });
    const siteId = new ObjectId(site.id);
    const received = new Date(clock.now().getTime() - 2 * ROLLUP_SETTLE_MS);
    await insertHits(app.database.db, [
      rawHit(siteId, { ts: new Date('2024-05-05T10:00:00Z'), receivedAt: received, visitorKey: 'a' }),
      rawHit(siteId, { ts: new Date('2024-05-06T10:00:00Z'), receivedAt: received, visitorKey: 'b' }),
    ]);
    const query: StatsQuery = {
      siteId: new Types.ObjectId(site.id),
      timezone: 'UTC',
      start: new Date('2024-05-05T00:00:00Z'),
      end: new Date('2024-05-07T00:00:00Z'),
      classification: 'ALL',
      filters: [],
      dimensions: [],
    };
    const coverage = app.app.get(RollupCoverageService);
    const marking = jest.spyOn(hitsRepository, 'markSiteForRollup');
    // What fails a run on a large site after the rebuild's first step: the sessionizer is behind.
    const flush = jest
      .spyOn(sessions, 'flush')
      .mockRejectedValueOnce(new Error('Visits of 9 visitors are still being computed'));
    try {
      await expect(job.runOnce()).rejects.toThrow('still being computed');
      expect(marking.mock.calls.filter(([id]) => id.equals(siteId))).toHaveLength(1);
      expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeUndefined();

      clock.advance(60_000);
      await job.runOnce();
      expect(marking.mock.calls.filter(([id]) => id.equals(siteId))).toHaveLength(1);
      expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeDefined();
      const [total] = await app.app
        .get(StatsRepository)
        .aggregateRollupHitMetrics(query, (await coverage.planOf('visitors', query, 'visitor-rows'))!.coverage!, {
          classification: true,
        });
      expect(total).toMatchObject({ visitors: 2, pageviews: 2 });

      // A purge (or erasure) during a rebuild asks for another: that one starts over.
      flush.mockRejectedValueOnce(new Error('Visits of 9 visitors are still being computed'));
      await app.app.get(RollupRepository).markSiteForRebuild(site.id);
      clock.advance(60_000);
      await expect(job.runOnce()).rejects.toThrow('still being computed');
      await app.app.get(RollupRepository).markSiteForRebuild(site.id);
      clock.advance(60_000);
      await job.runOnce();
      expect(marking.mock.calls.filter(([id]) => id.equals(siteId))).toHaveLength(3);
      expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeDefined();
    } finally {
      marking.mockRestore();
      flush.mockRestore();
    }
  });

  it('reads a site built in the previous row shape raw until the job rebuilds it; forgets deleted sites', async () => {
    const sites = app.app.get(SitesService);
    clock.advance(3_600_000);
    const site = await sites.create({ domain: `upgrade-${Date.now()}.example`, name: 'upgrade' });
    const siteId = new ObjectId(site.id);
    await insertHits(app.database.db, [
      rawHit(siteId, {
        ts: new Date('2024-05-07T10:00:00Z'),
        receivedAt: new Date(clock.now().getTime() - 2 * ROLLUP_SETTLE_MS),
        visitorKey: 'old',
      }),
    ]);
    const state = app.database.db.collection<{ _id: string; timezone?: string; version?: number }>(
      'stats_rollup_state',
    );
    // As version 1 left it: built in the site's zone, no version, no visitor sets or visit hours.
    await state.insertOne({ _id: `site:${site.id}`, timezone: 'UTC' });
    // A row of an older shape (version 8: a text digest as `_id`, a `page` set): the rebuild replaces it.
    await app.database.db.collection<{ _id: string; [field: string]: unknown }>('stats_visitor_sets').insertOne({
      _id: 'YuyU8S8NFiSr2oipSrW067KLYj0=',
      siteId,
      set: 'page',
      day: '2024-05-07',
      visitorKey: 'old',
      classification: 'USER',
      path: '/',
      pageviews: 1,
      events: 1,
      lastBatch: 1,
    });
    const goneSiteId = new ObjectId().toHexString();
    await state.insertOne({ _id: `site:${goneSiteId}`, timezone: 'UTC' });
    const query: StatsQuery = {
      siteId: new Types.ObjectId(site.id),
      timezone: 'UTC',
      start: new Date('2024-05-07T00:00:00Z'),
      end: new Date('2024-05-08T00:00:00Z'),
      classification: 'ALL',
      filters: [],
      dimensions: [],
    };
    const coverage = app.app.get(RollupCoverageService);
    expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toBeUndefined();
    expect((await coverage.planOf('visits', query, 'visit-hours'))?.coverage).toBeUndefined();

    await app.app.get(RollupJob).runOnce();
    expect((await coverage.planOf('visitors', query, 'visitor-rows'))?.coverage).toMatchObject({
      set: 'visitor',
      rawDays: [],
    });
    expect(await state.findOne({ _id: `site:${site.id}` })).toMatchObject({ timezone: 'UTC', version: ROLLUP_VERSION });
    // One hit: one row in each visitor set, in this version's shape.
    const setRows = await app.database.db.collection('stats_visitor_sets').find({ siteId }).toArray();
    expect(setRows.map((row) => row.set as string).sort()).toEqual(VISITOR_SETS.map((set) => set.name).sort());
    expect(setRows.every((row) => row._id instanceof Binary)).toBe(true);
    expect(await state.findOne({ _id: `site:${goneSiteId}` })).toBeNull();
  });

  it('keeps week counts of closed weeks only, closes weeks as days pass, and recounts a closed week after a late hit', async () => {
    const sites = app.app.get(SitesService);
    const job = app.app.get(RollupJob);
    const rollups = app.app.get(RollupRepository);
    const coverageService = app.app.get(RollupCoverageService);
    const repository = app.app.get(StatsRepository);
    // Wednesday 8 January 2025: the week of 30 December closed on the 6th; the week of 6 January is open.
    clock.set(new Date('2025-01-08T12:00:00Z'));
    const site = await sites.create({ domain: `weeks-${Date.now()}.example`, name: 'weeks' });
    const siteId = new ObjectId(site.id);
    const hit = (day: string, visitorKey: string, countryCode: string): RawHit =>
      rawHit(siteId, {
        ts: new Date(`${day}T10:00:00Z`),
        receivedAt: new Date(clock.now().getTime() - 2 * ROLLUP_SETTLE_MS),
        visitorKey,
        countryCode,
      });
    const weekRows = () =>
      app.database.db.collection('stats_visitor_counts').distinct('day', { siteId, unit: 'week', key: 'country' });
    const byCountry = (from: string, to: string): StatsQuery => ({
      siteId: new Types.ObjectId(site.id),
      timezone: 'UTC',
      start: new Date(`${from}T00:00:00Z`),
      end: new Date(new Date(`${to}T00:00:00Z`).getTime() + 86_400_000),
      classification: 'ALL',
      filters: [],
      dimensions: ['country'],
    });
    /** The weeks read as week rows, and the numbers: the same as from raw hits, and as worked out by hand. */
    const answer = async (query: StatsQuery, weeks: string[]): Promise<string[]> => {
      const coverage = (await coverageService.planOf('visitors', query, 'visitor-counts'))?.coverage;
      expect(coverage?.weeks).toEqual(weeks);
      const rows = canonical(await repository.aggregateHitMetricsFromCounts(query, coverage!), ['country']);
      expect(rows).toEqual(
        canonical(await repository.aggregateHitMetrics(query, { classification: true }), ['country']),
      );
      return rows;
    };
    // [country, visitors, page views, hits, bot hits]
    const row = (country: string, visitors: number, pageviews: number) =>
      JSON.stringify([[country], visitors, pageviews, pageviews, 0]);

    await insertHits(app.database.db, [
      hit('2024-12-31', 'a', 'DE'),
      hit('2025-01-02', 'a', 'DE'),
      hit('2025-01-03', 'b', 'FR'),
      hit('2025-01-06', 'a', 'DE'),
      hit('2025-01-07', 'c', 'DE'),
    ]);
    await job.runOnce();
    expect((await rollups.findSiteState(site.id)).weeksThrough).toBe('2025-01-05');
    expect(await weekRows()).toEqual(['2024-12-30']);
    // The open week is read as days, though it lies wholly in the range.
    expect(await answer(byCountry('2024-12-30', '2025-01-12'), ['2024-12-30'])).toEqual([
      row('DE', 2, 4),
      row('FR', 1, 1),
    ]);

    // Tuesday 14 January: the week of 6 January has closed. A hit today brings the site to the job, which counts the week.
    clock.set(new Date('2025-01-14T12:00:00Z'));
    await insertHits(app.database.db, [hit('2025-01-14', 'd', 'FR')]);
    await job.runOnce();
    expect((await rollups.findSiteState(site.id)).weeksThrough).toBe('2025-01-12');
    expect(await weekRows()).toEqual(['2024-12-30', '2025-01-06']);
    expect(await answer(byCountry('2024-12-30', '2025-01-14'), ['2024-12-30', '2025-01-06'])).toEqual([
      row('DE', 2, 4),
      row('FR', 2, 2),
    ]);

    // A late hit of c on 1 January: c's first day in the week of 6 January now returns from the 1st,
    // so that week is recounted too, or c would count twice over both weeks.
    clock.advance(3 * ROLLUP_SETTLE_MS);
    await insertHits(app.database.db, [hit('2025-01-01', 'c', 'DE')]);
    await job.runOnce();
    expect(await answer(byCountry('2024-12-30', '2025-01-12'), ['2024-12-30', '2025-01-06'])).toEqual([
      row('DE', 2, 5),
      row('FR', 1, 1),
    ]);
    expect(await answer(byCountry('2025-01-06', '2025-01-12'), ['2025-01-06'])).toEqual([row('DE', 2, 2)]);
    // Ranges starting or ending mid-week read those days as day rows.
    expect(await answer(byCountry('2025-01-01', '2025-01-07'), [])).toEqual([row('DE', 2, 4), row('FR', 1, 1)]);
  });

  it('lets one holder run the job at a time; an expired lease can be taken over', async () => {
    const leases = app.app.get(LeaseService);
    expect(await leases.acquire(ROLLUP_LEASE, 'instance-a', 60_000)).toBe(true);
    expect(await leases.acquire(ROLLUP_LEASE, 'instance-b', 60_000)).toBe(false);
    // The job on this app instance is another holder: it must not run either.
    expect(await app.app.get(RollupJob).runOnce()).toEqual({ ran: false, siteDays: 0 });
    expect(await leases.acquire(ROLLUP_LEASE, 'instance-a', 60_000)).toBe(true);
    clock.advance(61_000);
    expect(await leases.acquire(ROLLUP_LEASE, 'instance-b', 60_000)).toBe(true);
    await leases.release(ROLLUP_LEASE, 'instance-b');
    expect(await leases.acquire(ROLLUP_LEASE, 'instance-a', 60_000)).toBe(true);
    await leases.release(ROLLUP_LEASE, 'instance-a');
  });
});
