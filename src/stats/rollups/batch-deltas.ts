import { createHash } from 'node:crypto';
import type { Types } from 'mongoose';
import { formatCalendarDate, zonedParts } from '../../common/time/calendar.js';
import { PAGEVIEW } from '../../ingestion/schemas/hit.schema.js';
import { HIT_COUNT_SETS, HIT_DAY_SETS, ROLLUP_FIELDS, VISITOR_SETS } from '../pipelines/rollup.pipeline.js';

/** A hit as a rollup batch reads it (HitsRepository.findRollupBatch). */
export type BatchHit = Record<string, unknown> & {
  siteId: Types.ObjectId;
  ts: Date;
  visitorKey: string;
  name: string;
  classification: string;
  userKey?: unknown;
};

/**
 * What a batch adds to one derived row: its key fields (`key`, set on insert), page views and
 * hits to add, and for visitor rows the first and last hit time and whether a hit was
 * identified (kept with `$min` / `$max`, which a second application cannot change either).
 */
export interface RowDelta {
  _id: string;
  key: Record<string, unknown>;
  pageviews: number;
  events: number;
  visitor?: { firstTs: Date; lastTs: Date; identified: number };
}

/** The deltas of one batch, per derived collection. */
export interface BatchDeltas {
  visitorDays: RowDelta[];
  visitorSets: RowDelta[];
  hitHours: RowDelta[];
  hitDays: RowDelta[];
  /** The local days each site's hits of the batch fall on (their visits and counts are recounted). */
  days: Map<string, Set<string>>;
}

/** The hit fields a batch needs besides the always-read ones. */
export const BATCH_FIELDS: readonly string[] = ROLLUP_FIELDS;

/**
 * The additions a batch of hits makes to the visitor rows, visitor sets and hit counts, in the
 * zone of each hit's site (`zones`; hits of sites not listed, deleted since, are skipped). A row's
 * `_id` is a digest of its key, so every application of a batch meets the same documents: this
 * is what lets `lastBatch` make a replay a no-op (RollupRepository.applyRowDeltas).
 */
export function batchDeltas(hits: readonly BatchHit[], zones: ReadonlyMap<string, string>): BatchDeltas {
  const visitorDays = new Map<string, RowDelta>();
  const visitorSets = new Map<string, RowDelta>();
  const hitHours = new Map<string, RowDelta>();
  const hitDays = new Map<string, RowDelta>();
  const days = new Map<string, Set<string>>();
  for (const hit of hits) {
    const siteKey = hit.siteId.toHexString();
    const timezone = zones.get(siteKey);
    if (timezone === undefined) continue;
    const parts = zonedParts(hit.ts, timezone);
    const day = formatCalendarDate(parts);
    const hour = `${day}T${String(parts.hour).padStart(2, '0')}:00`;
    const siteDays = days.get(siteKey) ?? new Set<string>();
    siteDays.add(day);
    days.set(siteKey, siteDays);
    const pageview = hit.name === PAGEVIEW ? 1 : 0;
    const visitor = { firstTs: hit.ts, lastTs: hit.ts, identified: typeof hit.userKey === 'string' ? 1 : 0 };
    const base = { siteId: hit.siteId, day };

    add(visitorDays, { ...base, visitorKey: hit.visitorKey, ...valuesOf(hit, ROLLUP_FIELDS) }, pageview, visitor);
    for (const set of VISITOR_SETS)
      add(
        visitorSets,
        {
          ...base,
          set: set.name,
          visitorKey: hit.visitorKey,
          classification: hit.classification,
          ...valuesOf(hit, set.fields),
        },
        pageview,
        visitor,
      );
    for (const set of HIT_COUNT_SETS)
      add(
        hitHours,
        { ...base, set: set.name, hour, classification: hit.classification, ...valuesOf(hit, set.fields) },
        pageview,
      );
    for (const set of HIT_DAY_SETS)
      add(
        hitDays,
        { ...base, set: set.name, classification: hit.classification, ...valuesOf(hit, set.fields) },
        pageview,
      );
  }
  return {
    visitorDays: [...visitorDays.values()],
    visitorSets: [...visitorSets.values()],
    hitHours: [...hitHours.values()],
    hitDays: [...hitDays.values()],
    days,
  };
}

/** The fields' values on the hit, a missing one as null (as the rows store them). */
function valuesOf(hit: BatchHit, fields: readonly string[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const field of fields) values[field] = hit[field] ?? null;
  return values;
}

function add(
  rows: Map<string, RowDelta>,
  key: Record<string, unknown>,
  pageview: number,
  visitor?: RowDelta['visitor'],
): void {
  const id = rowId(key);
  const row = rows.get(id);
  if (!row) {
    rows.set(id, { _id: id, key, pageviews: pageview, events: 1, ...(visitor ? { visitor: { ...visitor } } : {}) });
    return;
  }
  row.pageviews += pageview;
  row.events += 1;
  if (row.visitor && visitor) {
    if (visitor.firstTs < row.visitor.firstTs) row.visitor.firstTs = visitor.firstTs;
    if (visitor.lastTs > row.visitor.lastTs) row.visitor.lastTs = visitor.lastTs;
    row.visitor.identified = Math.max(row.visitor.identified, visitor.identified);
  }
}

/** A digest of the row's key fields in a fixed order: the same key always gives the same `_id`. */
function rowId(key: Record<string, unknown>): string {
  const text = JSON.stringify(
    Object.keys(key)
      .sort()
      .map((field) => [field, key[field]]),
  );
  return createHash('sha1').update(text).digest('base64');
}
