import { describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import {
  HIT_COUNT_SETS,
  VISITOR_SETS,
  buildPendingBucketsPipeline,
  narrowestSet,
} from '../pipelines/rollup.pipeline.js';
import type { StatsQuery } from '../query/stats-query.js';
import { daySlicesOfSpans, mergeDaySlices } from './rollup-days.js';

const query: StatsQuery = {
  siteId: new Types.ObjectId('65f1c0ffee0000000000abcd'),
  timezone: 'UTC',
  start: new Date('2024-05-01T00:00:00Z'),
  end: new Date('2024-05-31T00:00:00Z'),
  classification: 'ALL',
  filters: [],
  dimensions: [],
};

describe('rollup days', () => {
  it('lists every local day a span touches, also across a DST change and a midnight', () => {
    const slices = daySlicesOfSpans(
      [{ from: new Date('2024-03-30T23:40:00Z'), to: new Date('2024-04-01T00:10:00Z') }],
      'Europe/Berlin',
    );
    // 2024-03-31 in Berlin lasts 23 hours (clocks go forward): hourly steps still meet it.
    expect(slices.map((slice) => slice.day)).toEqual(['2024-03-31', '2024-04-01']);
    expect(slices[0]).toMatchObject({
      start: new Date('2024-03-30T23:00:00Z'),
      end: new Date('2024-03-31T22:00:00Z'),
    });
  });

  it('unites slice lists, one per day, sorted', () => {
    const [a, b] = daySlicesOfSpans(
      [{ from: new Date('2024-05-01T12:00:00Z'), to: new Date('2024-05-02T12:00:00Z') }],
      'UTC',
    );
    expect(mergeDaySlices([b], [a, b]).map((slice) => slice.day)).toEqual(['2024-05-01', '2024-05-02']);
  });
});

describe('dimension sets', () => {
  it('answers totals and place/device/host breakdowns from the per-visitor set, pages from the full rows', () => {
    expect(narrowestSet(query, VISITOR_SETS)).toBe('visitor');
    expect(narrowestSet({ ...query, dimensions: ['city', 'region', 'country'] }, VISITOR_SETS)).toBe('visitor');
    expect(narrowestSet({ ...query, dimensions: ['classification', 'device'] }, VISITOR_SETS)).toBe('visitor');
    expect(narrowestSet({ ...query, dimensions: ['page_host'] }, VISITOR_SETS)).toBe('visitor');
    expect(narrowestSet({ ...query, dimensions: ['page'] }, VISITOR_SETS)).toBeUndefined();
    // A page breakdown filtered by country needs both fields on one row: only the full rows have them.
    const pageInCountry = {
      ...query,
      dimensions: ['page' as const],
      filters: [{ operator: 'is' as const, dimension: 'country' as const, values: ['DE'] }],
    };
    expect(narrowestSet(pageInCountry, VISITOR_SETS)).toBeUndefined();
  });

  it('counts totals from one row per hour, and only countries and pages per value', () => {
    expect(narrowestSet(query, HIT_COUNT_SETS)).toBe('total');
    expect(narrowestSet({ ...query, dimensions: ['country'] }, HIT_COUNT_SETS)).toBe('country');
    expect(narrowestSet({ ...query, dimensions: ['browser'] }, HIT_COUNT_SETS)).toBeUndefined();
  });
});

describe('pending hits', () => {
  it('matches the receivedAt range alone first, so its index answers it, then the site', () => {
    const after = new Date('2024-05-01T00:00:00Z');
    const [first, second] = buildPendingBucketsPipeline({ after, siteId: query.siteId });
    expect(first).toEqual({ $match: { receivedAt: { $gt: after } } });
    expect(second).toEqual({ $match: { siteId: query.siteId } });
  });
});
