import { describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import type { StatsQuery } from '../query/stats-query.js';
import { buildHitMetricsPipeline } from './hit-metrics.pipeline.js';
import { buildRealtimePipeline } from './realtime.pipeline.js';
import { buildUserStatsPipeline } from './user-stats.pipeline.js';
import { buildVisitMetricsPipeline } from './visit-metrics.pipeline.js';

const siteId = new Types.ObjectId('65f1c0ffee0000000000abcd');
const base: StatsQuery = {
  siteId,
  timezone: 'Europe/Berlin',
  start: new Date('2024-02-09T23:00:00Z'),
  end: new Date('2024-02-13T23:00:00Z'),
  classification: 'USER',
  filters: [],
  dimensions: [],
};
const stageNames = (stages: object[]) => stages.map((stage) => Object.keys(stage)[0]);

describe('hit metrics pipeline', () => {
  it('matches site, range and classification first, then groups once when no visit field is involved', () => {
    const stages = buildHitMetricsPipeline({ ...base, dimensions: ['country'], interval: 'day' });
    expect(stageNames(stages)).toEqual(['$match', '$group', '$project']);
    expect(stages[0]).toEqual({
      $match: { $and: [{ siteId }, { ts: { $gte: base.start, $lt: base.end } }, { classification: 'USER' }] },
    });
    expect(stages[1]).toMatchObject({
      $group: {
        _id: {
          country: { $ifNull: ['$countryCode', null] },
          time: { $dateToString: { date: '$ts', format: '%Y-%m-%d', timezone: 'Europe/Berlin' } },
        },
        visitors: { $addToSet: '$visitorKey' },
        events: { $sum: 1 },
      },
    });
  });

  it('leaves classification out for bot share and groups everything under null without dimensions', () => {
    const stages = buildHitMetricsPipeline(base, { classification: false });
    expect(stages[0]).toEqual({ $match: { $and: [{ siteId }, { ts: { $gte: base.start, $lt: base.end } }] } });
    expect(stages[1]).toMatchObject({ $group: { _id: null } });
  });

  it('turns filters into literal conditions: $in/$nin and escaped case-insensitive regexes', () => {
    const stages = buildHitMetricsPipeline({
      ...base,
      filters: [
        { operator: 'is', dimension: 'country', values: ['DE'] },
        { operator: 'not_contains', dimension: 'page', values: ['a.b$'] },
      ],
    });
    const match = (stages[0] as { $match: { $and: object[] } }).$match.$and;
    expect(match.slice(3)).toEqual([
      { countryCode: { $in: ['DE'] } },
      { $nor: [{ path: { $regex: 'a\\.b\\$', $options: 'i' } }] },
    ]);
  });

  it('joins the visit for visit-level dimensions, grouping per visit first', () => {
    const stages = buildHitMetricsPipeline({
      ...base,
      dimensions: ['entry_page'],
      filters: [{ operator: 'is', dimension: 'exit_page', values: ['/'] }],
    });
    expect(stageNames(stages)).toEqual(['$match', '$group', '$lookup', '$unwind', '$match', '$group', '$project']);
    expect(stages[2]).toEqual({
      $lookup: { from: 'visits', localField: '_id.visitId', foreignField: '_id', as: 'visit' },
    });
    expect(stages[4]).toEqual({ $match: { $and: [{ 'visit.exitPath': { $in: ['/'] } }] } });
    expect(stages[5]).toMatchObject({ $group: { _id: { entry_page: { $ifNull: ['$visit.entryPath', null] } } } });
  });
});

describe('visit metrics pipeline', () => {
  it('reads the visits collection by start when only visit-level fields are involved', () => {
    const { collection, pipeline } = buildVisitMetricsPipeline({ ...base, interval: 'week' });
    expect(collection).toBe('visits');
    expect(stageNames(pipeline)).toEqual(['$match', '$group', '$project']);
    expect(pipeline[0]).toEqual({
      $match: { $and: [{ siteId }, { start: { $gte: base.start, $lt: base.end } }, { classification: 'USER' }] },
    });
    expect(pipeline[1]).toMatchObject({
      $group: {
        _id: {
          time: {
            $dateToString: {
              date: { $dateTrunc: { date: '$start', unit: 'week', startOfWeek: 'monday', timezone: 'Europe/Berlin' } },
              format: '%Y-%m-%d',
              timezone: 'Europe/Berlin',
            },
          },
        },
        visits: { $sum: 1 },
        bounces: { $sum: { $cond: [{ $eq: ['$pageviews', 1] }, 1, 0] } },
      },
    });
  });

  it('finds visits through matching hits for hit-level dimensions, classifying by the visit', () => {
    const { collection, pipeline } = buildVisitMetricsPipeline({ ...base, dimensions: ['page'] });
    expect(collection).toBe('hits');
    expect(stageNames(pipeline)).toEqual(['$match', '$group', '$lookup', '$unwind', '$match', '$group', '$project']);
    expect(pipeline[0]).toEqual({ $match: { $and: [{ siteId }, { ts: { $gte: base.start, $lt: base.end } }] } });
    expect(pipeline[4]).toEqual({
      $match: { $and: [{ 'visit.start': { $gte: base.start, $lt: base.end } }, { 'visit.classification': 'USER' }] },
    });
  });
});

describe('realtime and user stats pipelines', () => {
  it('realtime looks at (now − 5 min, now]', () => {
    const now = new Date('2024-02-15T17:00:00Z');
    const stages = buildRealtimePipeline({ siteId, now, windowMinutes: 5, classification: 'ALL' });
    expect(stages[0]).toEqual({ $match: { siteId, ts: { $gt: new Date('2024-02-15T16:55:00Z'), $lte: now } } });
  });

  it('user stats is one pass: per visitor, then one $group of conditional counts', () => {
    const now = new Date('2024-02-15T17:00:00Z');
    const stages = buildUserStatsPipeline({ siteId, now });
    expect(stageNames(stages)).toEqual(['$match', '$group', '$group', '$project']);
    expect(stages[0]).toEqual({ $match: { siteId, classification: 'USER' } });
    expect(stages[2]).toMatchObject({
      $group: {
        activeUsersLast7Days: { $sum: { $cond: [{ $gte: ['$lastSeen', new Date('2024-02-08T17:00:00Z')] }, 1, 0] } },
        newUsersLast7Days: { $sum: { $cond: [{ $gte: ['$firstSeen', new Date('2024-02-08T17:00:00Z')] }, 1, 0] } },
      },
    });
  });
});
