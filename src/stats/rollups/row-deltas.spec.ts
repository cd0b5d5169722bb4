import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { formatCalendarDate, zonedParts } from '../../common/time/calendar.js';
import { PAGEVIEW } from '../../hits/hit.schema.js';
import { DIMENSION_SOURCES } from '../query/dimensions.js';
import {
  ATTRIBUTION_DIMENSIONS,
  ATTRIBUTION_FIELDS,
  HIT_COUNT_SETS,
  HIT_DAY_SETS,
  ROLLUP_FIELDS,
  USER_STATS_SET,
  VISITOR_SETS,
} from '../pipelines/rollup.pipeline.js';
import {
  batchDeltas,
  rowId,
  rowKeyText,
  RowKeyShape,
  visitContribution,
  visitHourDeltas,
  visitSourceDeltas,
  type BatchHit,
  type RowDelta,
  type VisitContribution,
} from './batch-deltas.js';

/**
 * The deltas look rows up by a row text built straight from the values' JSON (RowKeyShape) and
 * make a key only for a new row. This pins them to the plain form they replaced: a key object per
 * hit and row, grouped by its sorted text (`rowKeyText`), `_id` = rowId(key), in the order first
 * met. Same rows, keys (field order included), _ids, sums and order, on random batches whose
 * values include nulls, missing fields, numbers and text that looks like JSON.
 */
const sites = [new Types.ObjectId(), new Types.ObjectId(), new Types.ObjectId()];
const zones = new Map([
  [sites[0].toHexString(), 'UTC'],
  [sites[1].toHexString(), 'Asia/Kolkata'],
]);
const text = fc.constantFrom('', 'a', 'b', 'null', '"a"', 'a","b', '],["x', '\u0000', 'é✓', '0');
const fieldValue = fc.option(fc.oneof(text, fc.constantFrom<unknown>(0, 1)), { nil: undefined, freq: 3 });
const hitArbitrary = fc
  .record({
    siteId: fc.constantFrom(...sites),
    ts: fc.integer({ min: 0, max: 3 * 86_400_000 }).map((offset) => new Date(Date.UTC(2024, 5, 1) + offset)),
    visitorKey: fc.constantFrom('v1', 'v2', 'v"3'),
    name: fc.constantFrom(PAGEVIEW, 'signup'),
    classification: fc.constantFrom('USER', 'BOT'),
    userKey: fc.option(fc.constantFrom('u1', 'u2'), { nil: undefined }),
    values: fc.record(
      Object.fromEntries(
        ROLLUP_FIELDS.filter((field) => field !== 'classification').map((field) => [field, fieldValue]),
      ),
    ),
  })
  .map(({ values, ...hit }) => {
    const fields = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
    return { ...hit, ...fields } as BatchHit;
  });

class PlainRows {
  private readonly rows = new Map<string, RowDelta>();

  add(key: Record<string, unknown>, sums: Record<string, number>, visitor?: RowDelta['visitor']): RowDelta {
    const textOfKey = rowKeyText(key);
    const row = this.rows.get(textOfKey) ?? {
      _id: rowId(key),
      key,
      inc: Object.fromEntries(Object.keys(sums).map((sum) => [sum, 0])),
      ...(visitor ? { visitor: { ...visitor } } : {}),
    };
    this.rows.set(textOfKey, row);
    for (const [sum, value] of Object.entries(sums)) row.inc[sum] += value;
    if (row.visitor && visitor) {
      if (visitor.firstTs < row.visitor.firstTs) row.visitor.firstTs = visitor.firstTs;
      if (visitor.lastTs > row.visitor.lastTs) row.visitor.lastTs = visitor.lastTs;
      row.visitor.identified = Math.max(row.visitor.identified, visitor.identified);
    }
    return row;
  }

  list(): RowDelta[] {
    return [...this.rows.values()];
  }
}

function valuesOf(hit: BatchHit, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((field) => [field, hit[field] ?? null]));
}

function plainBatchDeltas(hits: readonly BatchHit[]) {
  const collections = {
    visitorDays: new PlainRows(),
    visitorSets: new PlainRows(),
    hitHours: new PlainRows(),
    hitDays: new PlainRows(),
  };
  for (const hit of hits) {
    const timezone = zones.get(hit.siteId.toHexString());
    if (timezone === undefined) continue;
    const parts = zonedParts(hit.ts, timezone);
    const day = formatCalendarDate(parts);
    const hour = `${day}T${String(parts.hour).padStart(2, '0')}:00`;
    const sums = { pageviews: hit.name === PAGEVIEW ? 1 : 0, events: 1 };
    const visitor = { firstTs: hit.ts, lastTs: hit.ts, identified: typeof hit.userKey === 'string' ? 1 : 0 };
    const base = { siteId: hit.siteId, day };
    collections.visitorDays.add({ ...base, visitorKey: hit.visitorKey, ...valuesOf(hit, ROLLUP_FIELDS) }, sums);
    for (const set of VISITOR_SETS)
      collections.visitorSets.add(
        {
          ...base,
          set: set.name,
          visitorKey: hit.visitorKey,
          classification: hit.classification,
          ...valuesOf(hit, set.fields),
        },
        sums,
        set.name === USER_STATS_SET ? visitor : undefined,
      );
    for (const set of HIT_COUNT_SETS)
      collections.hitHours.add(
        { ...base, set: set.name, hour, classification: hit.classification, ...valuesOf(hit, set.fields) },
        sums,
      );
    for (const set of HIT_DAY_SETS)
      collections.hitDays.add(
        { ...base, set: set.name, classification: hit.classification, ...valuesOf(hit, set.fields) },
        sums,
      );
  }
  return Object.fromEntries(Object.entries(collections).map(([name, rows]) => [name, rows.list()]));
}

type Change = { siteId: Types.ObjectId; current?: VisitContribution; next: VisitContribution | null };

function plainVisitDeltas(changes: readonly Change[]) {
  const sources = new PlainRows();
  const hours = new PlainRows();
  const sumsOf = (contribution: VisitContribution, sign: number) => ({
    visits: sign * contribution.visits,
    bounces: sign * contribution.bounces,
    durationMs: sign * contribution.durationMs,
    visitPageviews: sign * contribution.visitPageviews,
  });
  for (const { siteId, current, next } of changes)
    for (const [contribution, sign] of [
      [current, -1],
      [next, 1],
    ] as const) {
      if (!contribution) continue;
      const { day, hour, classification } = contribution;
      hours.add({ siteId, day, hour, classification }, sumsOf(contribution, sign));
    }
  for (const { siteId, current, next } of changes)
    for (const [contribution, sign] of [
      [current, -1],
      [next, 1],
    ] as const) {
      if (!contribution) continue;
      for (const dimension of ATTRIBUTION_DIMENSIONS) {
        const value = contribution.attribution?.[DIMENSION_SOURCES[dimension].field] ?? null;
        sources.add(
          { siteId, day: contribution.day, classification: contribution.classification, dimension, value },
          sumsOf(contribution, sign),
        );
      }
    }
  return { sources: sources.list(), hours: hours.list() };
}

/** Rows as compared: `_id` as hex, the key as its entries (so that its field order counts too). */
function comparable(rows: readonly RowDelta[]) {
  return rows.map((row) => ({ ...row, _id: row._id.toString('hex'), key: Object.entries(row.key) }));
}

const contributionArbitrary = fc
  .record({
    site: fc.integer({ min: 0, max: 1 }),
    start: fc.integer({ min: 0, max: 2 * 86_400_000 }),
    minutes: fc.integer({ min: 0, max: 90 }),
    pageviews: fc.integer({ min: 1, max: 4 }),
    classification: fc.constantFrom('USER', 'BOT'),
    attribution: fc.record(
      Object.fromEntries(ATTRIBUTION_FIELDS.map((field) => [field, fc.option(text, { nil: undefined })])),
    ),
  })
  .map(({ site, start, minutes, pageviews, classification, attribution }) => {
    const startDate = new Date(Date.UTC(2024, 5, 1) + start);
    const visit = {
      start: startDate,
      end: new Date(startDate.getTime() + minutes * 60_000),
      pageviews,
      classification,
      ...attribution,
    };
    return { siteId: sites[site], contribution: visitContribution(visit, zones.get(sites[site].toHexString())!) };
  });
const changesArbitrary = fc.array(
  fc.tuple(fc.option(contributionArbitrary, { nil: undefined }), fc.option(contributionArbitrary, { nil: null })),
  { maxLength: 25 },
);

describe('row deltas', () => {
  it('batchDeltas gives the rows, keys, _ids, sums and order that grouping plain keys by their text gave', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hitArbitrary, { maxLength: 40 }), async (hits) => {
        const deltas = await batchDeltas(hits, zones);
        const plain = plainBatchDeltas(hits);
        for (const collection of ['visitorDays', 'visitorSets', 'hitHours', 'hitDays'] as const)
          expect(comparable(deltas[collection])).toEqual(comparable(plain[collection]));
      }),
    );
  });

  it('the visit deltas give the rows, keys, _ids, sums and order that grouping plain keys gave', async () => {
    await fc.assert(
      fc.asyncProperty(changesArbitrary, async (pairs) => {
        // A change's current and next belong to one visit, so to one site.
        const changes: Change[] = pairs
          .filter(([current, next]) => current !== undefined || next !== null)
          .map(([current, next]) => ({
            siteId: (current ?? next)!.siteId,
            ...(current ? { current: current.contribution } : {}),
            next: next ? next.contribution : null,
          }));
        const plain = plainVisitDeltas(changes);
        expect(comparable(visitHourDeltas(changes))).toEqual(comparable(plain.hours));
        expect(comparable(await visitSourceDeltas(changes))).toEqual(comparable(plain.sources));
      }),
    );
  });

  it('a shape writes the text rowKeyText writes for its keys, whatever the values', () => {
    fc.assert(
      fc.property(fc.constantFrom(...sites), fieldValue, fieldValue, (siteId, value, other) => {
        const key = { siteId, set: 'page', path: value, countryCode: other };
        const shape = new RowKeyShape(['siteId', 'path', 'countryCode'], { set: 'page' });
        const text = shape.text({
          siteId: JSON.stringify(siteId),
          path: JSON.stringify(value ?? null),
          countryCode: JSON.stringify(other ?? null),
        });
        expect(text).toBe(rowKeyText(key));
      }),
    );
  });
});
