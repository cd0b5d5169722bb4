import { describe, expect, it } from '@jest/globals';
import type { Schema } from 'mongoose';
import {
  FunnelCountRowSchema,
  FunnelRowsStateSchema,
  FunnelVisitorRowSchema,
  FunnelVisitRowSchema,
} from './funnel-rows.schema.js';

/**
 * Every filter FunnelRowsRepository sends to the funnel collections (their fields, equality or
 * range), and the schema it goes to: each must lead an index, or the store scans the collection
 * (site-wide drops after a purge, an erasure or a zone change scan every site's rows).
 */
const QUERIES: Array<[string, Schema, string[]]> = [
  ['findVisitsOf', FunnelVisitRowSchema, ['visitId']],
  ['findVisitorVisits', FunnelVisitRowSchema, ['funnelId', 'classification', 'visitorKey', 'day']],
  ['findCrossing', FunnelVisitRowSchema, ['funnelId', 'classification', 'midnights']],
  ['deleteFunnelRows (visits)', FunnelVisitRowSchema, ['funnelId']],
  ['deleteFunnelSite (visits)', FunnelVisitRowSchema, ['siteId']],
  ['findRecordedFunnelVisitors', FunnelVisitorRowSchema, ['nextBatch']],
  ['deleteFunnelRows (visitors)', FunnelVisitorRowSchema, ['funnelId']],
  ['deleteFunnelSite (visitors)', FunnelVisitorRowSchema, ['siteId']],
  ['findCounts', FunnelCountRowSchema, ['funnelId', 'classification', 'day']],
  ['deleteFunnelRows (counts)', FunnelCountRowSchema, ['funnelId']],
  ['deleteFunnelSite (counts)', FunnelCountRowSchema, ['siteId']],
  ['findReadyFunnels / deleteFunnelSite (states)', FunnelRowsStateSchema, ['siteId']],
];

describe('funnel rows: every query of the repository leads an index', () => {
  it.each(QUERIES)('%s', (_name, schema, fields) => {
    // An index serves the filter when its first key is a filtered field and its next keys, as far
    // as they go, are filtered fields too (a prefix the planner can bound).
    const served = schema.indexes().some(([keys]) => {
      const names = Object.keys(keys);
      return (
        names.length > 0 &&
        fields.includes(names[0]) &&
        names.slice(0, fields.length).every((name) => fields.includes(name))
      );
    });
    expect(served).toBe(true);
  });
});
