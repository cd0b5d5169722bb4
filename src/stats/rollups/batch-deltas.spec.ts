import { describe, expect, it } from '@jest/globals';
import { calculateObjectSize } from 'bson';
import fc from 'fast-check';
import { Types } from 'mongoose';
import {
  batchDeltas,
  contributionOf,
  ownHitDays,
  storedContribution,
  visitContribution,
  visitHourDeltas,
  visitSourceDeltas,
  type BatchHit,
} from './batch-deltas.js';
import { SLICE } from '../../database/slices.js';
import { compareHits, sessionize } from '../../sessions/sessionize.js';
import type { Visit } from '../../sessions/schemas/visit.schema.js';
import { ATTRIBUTION_FIELDS } from '../pipelines/rollup.pipeline.js';

const site = new Types.ObjectId();

function hit(ts: string, fields: Partial<BatchHit> = {}): BatchHit {
  return {
    siteId: site,
    ts: new Date(ts),
    visitorKey: 'v',
    name: 'pageview',
    classification: 'USER',
    path: '/',
    ...fields,
  };
}

describe('batchDeltas', () => {
  it('sums a batch per row in the site zone, with the same _id for the same key whatever the batch', async () => {
    const zones = new Map([[site.toHexString(), 'Asia/Kolkata']]);
    // 20:00 UTC is 01:30 the next day in Kolkata.
    const first = await batchDeltas(
      [hit('2024-06-01T20:00:00Z'), hit('2024-06-01T20:10:00Z', { name: 'signup', userKey: 'u' })],
      zones,
    );
    const visitorRows = first.visitorDays;
    expect(visitorRows).toHaveLength(1);
    expect(visitorRows[0].key).toMatchObject({ day: '2024-06-02', visitorKey: 'v', path: '/', countryCode: null });
    expect(visitorRows[0].inc).toEqual({ pageviews: 1, events: 2 });
    // First and last hit time only where user stats read them: the `visitor` set.
    expect(visitorRows[0].visitor).toBeUndefined();
    const bySet = new Map(first.visitorSets.map((row) => [row.key.set, row]));
    expect(bySet.get('visitor')?.visitor).toEqual({
      firstTs: new Date('2024-06-01T20:00:00Z'),
      lastTs: new Date('2024-06-01T20:10:00Z'),
      identified: 1,
    });
    expect(first.hitHours.find((row) => row.key.set === 'total')?.key.hour).toBe('2024-06-02T01:00');
    expect([...first.days.get(site.toHexString())!]).toEqual(['2024-06-02']);
    const second = await batchDeltas([hit('2024-06-01T20:30:00Z')], zones);
    expect(first.visitorDays[0]._id.length()).toBe(12);
    expect(second.visitorDays[0]._id.toString('hex')).toBe(first.visitorDays[0]._id.toString('hex'));
    expect(first.visitorSets[0]._id.toString('hex')).not.toBe(first.visitorDays[0]._id.toString('hex'));
  });

  it('lets other work run between slices of a large batch, and sums it as one', async () => {
    const zones = new Map([[site.toHexString(), 'UTC']]);
    const hits = Array.from({ length: 2 * SLICE + 1 }, (_, index) =>
      hit(new Date(Date.UTC(2024, 5, 1) + index * 1000).toISOString(), { visitorKey: `v${index % 7}` }),
    );
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    const ticker = () => new Promise<void>((resolve) => setImmediate(resolve));
    await ticker();
    turns = 0;
    const deltas = await batchDeltas(hits, zones);
    clearInterval(ticking);
    // Timers run once per turn of the loop: the slices gave them turns while the batch was summed.
    expect(turns).toBeGreaterThanOrEqual(2);
    const days = deltas.visitorDays.filter((row) => row.key.day === '2024-06-01');
    expect(days).toHaveLength(7);
    expect(days.reduce((sum, row) => sum + row.inc.events, 0)).toBe(hits.length);
  });

  it('skips hits of sites it has no zone for (deleted since)', async () => {
    expect((await batchDeltas([hit('2024-06-01T20:00:00Z')], new Map())).visitorDays).toEqual([]);
  });
});

describe('visitHourDeltas', () => {
  it("takes a changed visit's old contribution out and its new one in, keeping rows whose delta is zero", () => {
    const before = visitContribution(
      {
        start: new Date('2024-06-01T10:50:00Z'),
        end: new Date('2024-06-01T10:50:00Z'),
        pageviews: 1,
        classification: 'USER',
      },
      'UTC',
    );
    const moved = visitContribution(
      {
        start: new Date('2024-06-01T09:55:00Z'),
        end: new Date('2024-06-01T10:50:00Z'),
        pageviews: 2,
        classification: 'USER',
      },
      'UTC',
    );
    const other = visitContribution(
      {
        start: new Date('2024-06-01T10:05:00Z'),
        end: new Date('2024-06-01T10:06:00Z'),
        pageviews: 1,
        classification: 'USER',
      },
      'UTC',
    );
    const rows = visitHourDeltas([
      { siteId: site, current: before, next: moved },
      { siteId: site, next: other },
    ]);
    const byHour = new Map(rows.map((row) => [row.key.hour, row.inc]));
    expect(byHour.get('2024-06-01T09:00')).toEqual({
      visits: 1,
      bounces: 0,
      durationMs: 55 * 60_000,
      visitPageviews: 2,
    });
    // Hour 10 loses a bouncing visit and gains another: zero, still written (it carries the batch).
    expect(byHour.get('2024-06-01T10:00')).toEqual({ visits: 0, bounces: 0, durationMs: 60_000, visitPageviews: 0 });
  });

  it('takes a deleted visit out', () => {
    const gone = visitContribution(
      {
        start: new Date('2024-06-01T10:00:00Z'),
        end: new Date('2024-06-01T10:00:00Z'),
        pageviews: 1,
        classification: 'BOT',
      },
      'UTC',
    );
    expect(visitHourDeltas([{ siteId: site, current: gone, next: null }])[0].inc).toEqual({
      visits: -1,
      bounces: -1,
      durationMs: 0,
      visitPageviews: -1,
    });
  });
});

describe('visitSourceDeltas', () => {
  it('moves a visit whose first hit changed from its old source to its new one, every attribution dimension included', async () => {
    const site = new Types.ObjectId();
    const visit = {
      start: new Date('2024-06-01T10:00:00Z'),
      end: new Date('2024-06-01T10:02:00Z'),
      pageviews: 2,
      classification: 'USER',
      entryPath: '/a',
    };
    const before = visitContribution({ ...visit, source: 'news.example' }, 'UTC');
    // A late hit at 09:55 with no source became the visit's first: direct, entering on /b.
    const after = visitContribution({ ...visit, start: new Date('2024-06-01T09:55:00Z'), entryPath: '/b' }, 'UTC');
    const rows = await visitSourceDeltas([{ siteId: site, current: before, next: after }]);
    const of = (dimension: string, value: string | null) =>
      rows.find((row) => row.key.dimension === dimension && row.key.value === value)?.inc;
    expect(of('source', 'news.example')).toEqual({ visits: -1, bounces: 0, durationMs: -120_000, visitPageviews: -2 });
    expect(of('source', null)).toEqual({ visits: 1, bounces: 0, durationMs: 420_000, visitPageviews: 2 });
    expect(of('entry_page', '/a')?.visits).toBe(-1);
    expect(of('entry_page', '/b')?.visits).toBe(1);
    // A dimension whose value did not change still meets its row (zero): it carries the batch.
    expect(of('utm_campaign', null)).toEqual({ visits: 0, bounces: 0, durationMs: 300_000, visitPageviews: 0 });
    expect(rows).toHaveLength(10);
  });
});

describe('stored visit contributions', () => {
  it('read back as the contribution they were stored from, bounce or not, across midnight in the zone', () => {
    for (const visit of [
      { start: '2024-06-01T18:40:00Z', end: '2024-06-01T18:40:00Z', pageviews: 1, classification: 'USER' },
      { start: '2024-06-01T18:40:00Z', end: '2024-06-01T19:10:30Z', pageviews: 4, classification: 'BOT' },
    ]) {
      // 18:40 UTC is 00:10 the next day in Kolkata.
      const contribution = visitContribution(
        { ...visit, start: new Date(visit.start), end: new Date(visit.end) },
        'Asia/Kolkata',
      );
      expect(contribution.day).toBe('2024-06-02');
      expect(contributionOf(storedContribution(contribution))).toEqual(contribution);
    }
  });

  it('keep their visitor, attribution and hits per local day and classification; a one-day visit only its number of hits', () => {
    const at = (iso: string, name: string, classification = 'USER') => ({ ts: new Date(iso), name, classification });
    const visit = {
      start: new Date('2024-06-01T18:20:00Z'),
      end: new Date('2024-06-01T18:45:00Z'),
      pageviews: 2,
      classification: 'USER',
      visitorKey: 'v1',
      source: 'news.example',
      referrer: null,
      utmCampaign: 'march',
      entryPath: '/a',
    };
    // 18:30 UTC is midnight in Kolkata: the visit's hits lie on two local days there, on one in UTC.
    const hits = [
      at('2024-06-01T18:20:00Z', 'pageview'),
      at('2024-06-01T18:40:00Z', 'pageview'),
      at('2024-06-01T18:45:00Z', 'signup'),
    ];
    const split = visitContribution(visit, 'Asia/Kolkata', hits);
    expect(split).toMatchObject({
      visitorKey: 'v1',
      attribution: { source: 'news.example', utmCampaign: 'march', entryPath: '/a' },
      hitDays: [
        { day: '2024-06-01', classification: 'USER', pageviews: 1, events: 1 },
        { day: '2024-06-02', classification: 'USER', pageviews: 1, events: 2 },
      ],
    });
    expect(storedContribution(split).hd).toHaveLength(2);
    expect(contributionOf(storedContribution(split), 'v1')).toEqual(split);
    const oneDay = visitContribution(visit, 'UTC', hits);
    expect(storedContribution(oneDay)).toMatchObject({ e: 3 });
    expect(storedContribution(oneDay).hd).toBeUndefined();
    expect(contributionOf(storedContribution(oneDay), 'v1')).toEqual(oneDay);
    // A bot hit in a human visit: its hits are kept per classification.
    const mixed = visitContribution(visit, 'UTC', [...hits, at('2024-06-01T18:45:00Z', 'signup', 'BOT')]);
    expect(contributionOf(storedContribution(mixed), 'v1')).toEqual(mixed);
    expect(storedContribution(mixed).hd).toHaveLength(2);
  });

  it('lose nothing in their compact form, for any visit, attribution, hits and zone', () => {
    const value = fc.option(fc.constantFrom('news.example', 'https://news.example/a', 'march', '/', '/a?b'), {
      nil: null,
    });
    const hit = fc.record({
      offsetMs: fc.integer({ min: 0, max: 3 * 86_400_000 }),
      name: fc.constantFrom('pageview', 'signup'),
      classification: fc.constantFrom('USER', 'BOT'),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.constantFrom('UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'Europe/Berlin'),
        fc.constantFrom('USER', 'BOT'),
        fc.integer({ min: 1, max: 50 }),
        fc.array(value, { minLength: ATTRIBUTION_FIELDS.length, maxLength: ATTRIBUTION_FIELDS.length }),
        fc.array(hit, { maxLength: 6 }),
        (start, zone, classification, pageviews, values, hits) => {
          const visit = {
            start: new Date(start),
            end: new Date(start + Math.max(0, ...hits.map((entry) => entry.offsetMs))),
            pageviews,
            classification,
            visitorKey: 'v1',
            ...Object.fromEntries(ATTRIBUTION_FIELDS.map((field, position) => [field, values[position]])),
          };
          const visitHits = hits.map(({ offsetMs, ...entry }) => ({ ...entry, ts: new Date(start + offsetMs) }));
          const contribution = visitContribution(visit, zone, visitHits);
          const stored = storedContribution(contribution);
          expect(contributionOf(stored, 'v1')).toEqual(contribution);
          // Compact: the hour a number, no attribution field name, USER left out.
          expect(typeof stored.h).toBe('number');
          expect(Object.keys(stored.a ?? {}).every((key) => /^\d+$/.test(key))).toBe(true);
          expect('c' in stored).toBe(classification !== 'USER');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('take fewer bytes than the version 10 form, which is still read back the same', () => {
    const contribution = visitContribution(
      {
        start: new Date('2024-06-01T10:00:00Z'),
        end: new Date('2024-06-01T10:00:00Z'),
        pageviews: 1,
        classification: 'USER',
        visitorKey: 'v1',
        source: 'news.example',
        referrer: 'https://news.example/',
        entryPath: '/a',
      },
      'UTC',
      [{ ts: new Date('2024-06-01T10:00:00Z'), name: 'pageview', classification: 'USER' }],
    );
    // As version 10 stored it: the hour as text, the classification, the attribution by field name.
    const version10 = {
      h: '2024-06-01T10:00',
      c: 'USER',
      p: 1,
      d: 0,
      a: { source: 'news.example', referrer: 'https://news.example/', entryPath: '/a' },
      e: 1,
    };
    expect(contributionOf(version10, 'v1')).toEqual(contribution);
    expect(calculateObjectSize(storedContribution(contribution))).toBeLessThan(calculateObjectSize(version10) - 30);
  });

  it('reads a contribution stored whole, as rows before version 9 hold it, as it is', () => {
    const whole = visitContribution(
      {
        start: new Date('2024-06-01T10:00:00Z'),
        end: new Date('2024-06-01T10:01:00Z'),
        pageviews: 2,
        classification: 'USER',
      },
      'UTC',
    );
    expect(contributionOf({ ...whole })).toEqual(whole);
  });
});

describe('a visit’s own hits per day', () => {
  const ZONES = ['UTC', 'Asia/Kolkata', 'America/New_York'];
  const hitArbitrary = fc.record({
    // Within two hours either side of midnight UTC, so some visits cross midnight in some zones.
    offset: fc.integer({ min: -2 * 3_600_000, max: 2 * 3_600_000 }),
    name: fc.constantFrom('pageview', 'pageview', 'signup'),
    classification: fc.constantFrom<'USER' | 'BOT'>('USER', 'USER', 'USER', 'BOT'),
  });

  it('give the contribution its hits give, whenever they tell it (one class, one local day)', () => {
    let told = 0;
    fc.assert(
      fc.property(fc.array(hitArbitrary, { minLength: 1, maxLength: 8 }), fc.constantFrom(...ZONES), (specs, zone) => {
        const midnight = Date.UTC(2024, 5, 2);
        const hits = specs
          .map(({ offset, ...fields }) => ({
            _id: new Types.ObjectId(),
            ts: new Date(midnight + offset),
            path: '/',
            visitId: null,
            ...fields,
          }))
          .sort(compareHits);
        for (const { visit, hitIds } of sessionize(new Types.ObjectId(), 'v', hits, 30 * 60_000)) {
          const own = ownHitDays(visit as Visit & Record<string, unknown>, zone);
          if (!own) continue;
          told++;
          const visitHits = hits.filter((hit) => hitIds.some((id) => id.equals(hit._id)));
          expect(visitContribution(visit as Visit & Record<string, unknown>, zone, { own })).toEqual(
            visitContribution(visit as Visit & Record<string, unknown>, zone, visitHits),
          );
        }
      }),
      { numRuns: 2_000 },
    );
    expect(told).toBeGreaterThan(500);
  });

  it('are not told for a visit across local midnight, with hits of another class, or stored before `singleClass`', () => {
    const visit = {
      start: new Date('2024-06-01T18:20:00Z'),
      end: new Date('2024-06-01T18:45:00Z'),
      pageviews: 2,
      hits: 3,
      classification: 'USER',
      singleClass: true,
    };
    expect(ownHitDays(visit, 'UTC')).toEqual([{ day: '2024-06-01', classification: 'USER', pageviews: 2, events: 3 }]);
    // 18:30 UTC is midnight in Kolkata.
    expect(ownHitDays(visit, 'Asia/Kolkata')).toBeUndefined();
    expect(ownHitDays({ ...visit, singleClass: false }, 'UTC')).toBeUndefined();
    const { singleClass: _absent, ...stored } = visit;
    expect(ownHitDays(stored, 'UTC')).toBeUndefined();
  });
});
