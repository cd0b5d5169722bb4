import { createHash } from 'node:crypto';
import { Binary } from 'mongodb';
import type { Types } from 'mongoose';
import { formatCalendarDate, zonedParts } from '../../common/time/calendar.js';
import { slicesOf } from '../../database/slices.js';
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
 * What a batch adds to one derived row: its key fields (`key`, set on insert), the sums to add,
 * and for the rows user stats read (set `visitor`) the first and last hit time and whether a hit
 * was identified (kept with `$min` / `$max`, which a second application cannot change either).
 */
export interface RowDelta {
  /** `rowId(key)`. */
  _id: Binary;
  key: Record<string, unknown>;
  /** Sums to add (negative for what a changed visit takes out). */
  inc: Record<string, number>;
  visitor?: { firstTs: Date; lastTs: Date; identified: number };
}

/** The deltas of one batch's hits, per derived collection. */
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
 * is what lets `lastBatch` make a replay a no-op (RollupRepository.applyRowDeltas). The hits are
 * taken in slices, letting requests in between (see slicesOf).
 */
export async function batchDeltas(hits: readonly BatchHit[], zones: ReadonlyMap<string, string>): Promise<BatchDeltas> {
  const visitorDays = new RowDeltas();
  const visitorSets = new RowDeltas();
  const hitHours = new RowDeltas();
  const hitDays = new RowDeltas();
  const days = new Map<string, Set<string>>();
  for await (const slice of slicesOf(hits))
    for (const hit of slice) {
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
      const json = hitJson(hit, siteKey, day, hour);

      add(
        visitorDays,
        VISITOR_DAY_KEY.text(json),
        () => withValues({ siteId: hit.siteId, day, visitorKey: hit.visitorKey }, hit, ROLLUP_FIELDS),
        pageview,
      );
      for (const set of VISITOR_SET_KEYS)
        add(
          visitorSets,
          set.key.text(json),
          () =>
            withValues(
              {
                siteId: hit.siteId,
                day,
                set: set.name,
                visitorKey: hit.visitorKey,
                classification: hit.classification,
              },
              hit,
              set.fields,
            ),
          pageview,
          set.name === USER_STATS_SET ? visitor : undefined,
        );
      for (const set of HIT_HOUR_KEYS)
        add(
          hitHours,
          set.key.text(json),
          () =>
            withValues(
              { siteId: hit.siteId, day, set: set.name, hour, classification: hit.classification },
              hit,
              set.fields,
            ),
          pageview,
        );
      for (const set of HIT_DAY_KEYS)
        add(
          hitDays,
          set.key.text(json),
          () =>
            withValues({ siteId: hit.siteId, day, set: set.name, classification: hit.classification }, hit, set.fields),
          pageview,
        );
    }
  return {
    visitorDays: visitorDays.rows(),
    visitorSets: visitorSets.rows(),
    hitHours: hitHours.rows(),
    hitDays: hitDays.rows(),
    days,
  };
}

/**
 * The JSON of every value a hit's row keys hold, made once per hit and shared by its six rows
 * (RowKeyShape.text). A missing value is `null`, as the key's JSON writes it.
 */
function hitJson(hit: BatchHit, siteKey: string, day: string, hour: string): Record<string, string> {
  const json: Record<string, string> = {
    siteId: `"${siteKey}"`,
    day: JSON.stringify(day),
    hour: JSON.stringify(hour),
    visitorKey: JSON.stringify(hit.visitorKey ?? null),
    classification: JSON.stringify(hit.classification ?? null),
  };
  for (const field of ROLLUP_FIELDS) json[field] = JSON.stringify(hit[field] ?? null);
  return json;
}

/**
 * `key` with the fields' values on the hit added, a missing one as null (as the rows store them);
 * assigned in place, as a spread would put them (a field already in `key` keeps its place).
 */
function withValues(key: Record<string, unknown>, hit: BatchHit, fields: readonly string[]): Record<string, unknown> {
  for (const field of fields) key[field] = hit[field] ?? null;
  return key;
}

function add(
  rows: RowDeltas,
  text: string,
  keyOf: () => Record<string, unknown>,
  pageview: number,
  visitor?: RowDelta['visitor'],
): void {
  const row = rows.deltaOf(text, (id) => ({
    _id: id,
    key: keyOf(),
    inc: { pageviews: 0, events: 0 },
    ...(visitor ? { visitor: { ...visitor } } : {}),
  }));
  row.inc.pageviews += pageview;
  row.inc.events += 1;
  if (row.visitor && visitor) {
    if (visitor.firstTs < row.visitor.firstTs) row.visitor.firstTs = visitor.firstTs;
    if (visitor.lastTs > row.visitor.lastTs) row.visitor.lastTs = visitor.lastTs;
    row.visitor.identified = Math.max(row.visitor.identified, visitor.identified);
  }
}

/** A visit's hits of one local day and hit classification: what it adds to the hit counts of its attribution. */
export interface VisitHitDay {
  day: string;
  classification: string;
  pageviews: number;
  events: number;
}

/**
 * What one visit adds to the derived rows: to the visit-hour row of its start (local hour,
 * classification, sums) and, under its attribution values (`attribution`, null values left out),
 * to the visit-source rows and, through its visitor's days (`visitorKey`, `hitDays`), to the
 * attribution count keys. A visit changed by the sessionizer has this taken out whole and its new
 * contribution put in.
 */
export interface VisitContribution {
  day: string;
  hour: string;
  classification: string;
  visits: number;
  bounces: number;
  durationMs: number;
  visitPageviews: number;
  /** Absent from contributions stored before row version 10 (their site is rebuilt). */
  visitorKey?: string;
  attribution?: Record<string, string>;
  hitDays?: VisitHitDay[];
}

/** A hit of a visit as its contribution reads it. */
export interface VisitHit {
  ts: Date;
  name: string;
  classification: string;
}

/** The fields of a visit its contribution reads (the attribution ones by name). */
export type ContributingVisit = {
  start: Date;
  end: Date;
  pageviews: number;
  hits?: number;
  classification: string;
  singleClass?: boolean;
  visitorKey?: string;
} & Record<string, unknown>;

/**
 * A visit's hits per local day and classification when its own figures tell them, without its
 * hits: every hit has the visit's classification (`singleClass`, kept by the sessionizer) and
 * the visit starts and ends on one local day. Undefined otherwise: its hits must be read.
 */
export function ownHitDays(visit: ContributingVisit, timezone: string): VisitHitDay[] | undefined {
  if (visit.singleClass !== true || visit.hits === undefined) return undefined;
  const day = formatCalendarDate(zonedParts(visit.start, timezone));
  if (formatCalendarDate(zonedParts(visit.end, timezone)) !== day) return undefined;
  return [{ day, classification: visit.classification, pageviews: visit.pageviews, events: visit.hits }];
}

/** The visit's contribution from its hits (`hits`), or from its own figures when it has no hits to read (`ownHitDays`). */
export function visitContribution(
  visit: ContributingVisit,
  timezone: string,
  hits: readonly VisitHit[] | { own: readonly VisitHitDay[] } = [],
): VisitContribution {
  const parts = zonedParts(visit.start, timezone);
  const day = formatCalendarDate(parts);
  const attribution: Record<string, string> = {};
  for (const field of ATTRIBUTION_FIELDS) {
    const value = visit[field];
    if (typeof value === 'string') attribution[field] = value;
  }
  const hitDays = 'own' in hits ? hits.own.map((sums) => ({ ...sums })) : countHitDays(hits, timezone);
  return {
    day,
    hour: `${day}T${String(parts.hour).padStart(2, '0')}:00`,
    classification: visit.classification,
    visits: 1,
    bounces: visit.pageviews === 1 ? 1 : 0,
    durationMs: visit.end.getTime() - visit.start.getTime(),
    visitPageviews: visit.pageviews,
    ...(typeof visit.visitorKey === 'string' ? { visitorKey: visit.visitorKey } : {}),
    attribution,
    hitDays,
  };
}

/** Hits counted per local day and classification, in that order. */
function countHitDays(hits: readonly VisitHit[], timezone: string): VisitHitDay[] {
  const hitDays = new Map<string, VisitHitDay>();
  for (const hit of hits) {
    const hitDay = formatCalendarDate(zonedParts(hit.ts, timezone));
    const id = `${hitDay}\u0000${hit.classification}`;
    const sums = hitDays.get(id) ?? { day: hitDay, classification: hit.classification, pageviews: 0, events: 0 };
    sums.pageviews += hit.name === PAGEVIEW ? 1 : 0;
    sums.events += 1;
    hitDays.set(id, sums);
  }
  return [...hitDays.values()].sort((a, b) =>
    a.day === b.day ? (a.classification < b.classification ? -1 : 1) : a.day < b.day ? -1 : 1,
  );
}

/**
 * A contribution as stats_visit_contributions stores it, one per visit, in as few bytes as it
 * takes (one row per visit, half a row per hit): the local hour (`h`, whole hours since
 * 1970-01-01T00:00 of the local clock: an int32 where the `YYYY-MM-DDTHH:00` text took 21 bytes;
 * its day is the hour's date), the classification (`c`, left out for `USER`, nearly every visit),
 * the page views and the duration; the attribution values (`a`, keyed by the field's position in
 * ATTRIBUTION_FIELDS — `"0"` for `source`, … — nulls left out) and the hits per day and
 * classification (`hd`: `[day, classification, page views, hits]`). A visit always counts once
 * and bounces when it has one page view, so those are not stored; its visitor is the row's `v`.
 * Most visits' hits all lie on their start day under their own classification, with the visit's
 * page views: those keep only their number of hits (`e`) instead of `hd`. Reordering
 * ATTRIBUTION_DIMENSIONS changes what `a`'s keys mean: it needs a new ROLLUP_VERSION.
 */
export interface StoredVisitContribution {
  /** Local hours since the epoch; text (`YYYY-MM-DDTHH:00`) in rows of version 10. */
  h: number | string;
  c?: string;
  p: number;
  d: number;
  /** By position in ATTRIBUTION_FIELDS; by field name in rows of version 10. */
  a?: Record<string, string>;
  hd?: Array<[string, string, number, number]>;
  e?: number;
}

const HOUR_MS = 3_600_000;
/** The classification a stored contribution leaves out. */
const USUAL_CLASSIFICATION = 'USER';

/** `YYYY-MM-DDTHH:00` (a local clock reading) as whole hours since 1970-01-01T00:00 of that clock. */
function hourNumber(hour: string): number {
  return Date.parse(`${hour}:00Z`) / HOUR_MS;
}

function hourLabel(stored: number | string): string {
  return typeof stored === 'string' ? stored : new Date(stored * HOUR_MS).toISOString().slice(0, 16);
}

export function storedContribution(contribution: VisitContribution): StoredVisitContribution {
  const attribution: Record<string, string> = {};
  ATTRIBUTION_FIELDS.forEach((field, position) => {
    const value = contribution.attribution?.[field];
    if (value !== undefined) attribution[String(position)] = value;
  });
  return {
    h: hourNumber(contribution.hour),
    ...(contribution.classification !== USUAL_CLASSIFICATION ? { c: contribution.classification } : {}),
    p: contribution.visitPageviews,
    d: contribution.durationMs,
    ...(Object.keys(attribution).length > 0 ? { a: attribution } : {}),
    ...hitDaysStored(contribution),
  } as StoredVisitContribution;
}

function hitDaysStored(contribution: VisitContribution): Pick<StoredVisitContribution, 'hd' | 'e'> {
  const { hitDays } = contribution;
  if (!hitDays) return {};
  const [only] = hitDays;
  if (
    hitDays.length === 1 &&
    only.day === contribution.day &&
    only.classification === contribution.classification &&
    only.pageviews === contribution.visitPageviews
  )
    return { e: only.events };
  return {
    hd: hitDays.map(({ day, classification, pageviews, events }) => [day, classification, pageviews, events]),
  };
}

/** Stored attribution values by field name (those of version 10 rows already are). */
function attributionOf(stored: Record<string, string> | undefined): Record<string, string> {
  const attribution: Record<string, string> = {};
  for (const [key, value] of Object.entries(stored ?? {}))
    attribution[/^\d+$/.test(key) ? ATTRIBUTION_FIELDS[Number(key)] : key] = value;
  return attribution;
}

/**
 * The contribution a stored one stands for (`visitorKey`: the row's `v`). Rows written before
 * version 9 of the rows hold the whole VisitContribution, and rows of version 10 the hour as text
 * and the attribution by field name: a batch recorded then and finished after an upgrade reads
 * them as they are (the site is rebuilt right after, which replaces them).
 */
export function contributionOf(
  stored: StoredVisitContribution | VisitContribution,
  visitorKey?: string,
): VisitContribution {
  if ('hour' in stored) return stored;
  const hour = hourLabel(stored.h);
  const day = hour.slice(0, 10);
  const classification = stored.c ?? USUAL_CLASSIFICATION;
  return {
    day,
    hour,
    classification,
    visits: 1,
    bounces: stored.p === 1 ? 1 : 0,
    durationMs: stored.d,
    visitPageviews: stored.p,
    ...(visitorKey !== undefined ? { visitorKey } : {}),
    attribution: attributionOf(stored.a),
    hitDays:
      stored.e !== undefined
        ? [{ day, classification, pageviews: stored.p, events: stored.e }]
        : (stored.hd ?? []).map(([hitDay, hitClassification, pageviews, events]) => ({
            day: hitDay,
            classification: hitClassification,
            pageviews,
            events,
          })),
  };
}

const VISIT_SUMS = ['visits', 'bounces', 'durationMs', 'visitPageviews'] as const;
const NO_VISIT_SUMS: Record<(typeof VISIT_SUMS)[number], number> = {
  visits: 0,
  bounces: 0,
  durationMs: 0,
  visitPageviews: 0,
};

/**
 * The visit-source deltas (stats_visit_sources) of visits whose contribution changes from
 * `current` to `next`: per attribution dimension, the visit's sums under its value on the local
 * day of its start, old out and new in. Every row met gets a delta, zero included (see
 * visitHourDeltas). Eight rows per visit: taken in slices, letting requests in between.
 */
export async function visitSourceDeltas(
  changes: ReadonlyArray<{ siteId: Types.ObjectId; current?: VisitContribution; next: VisitContribution | null }>,
): Promise<RowDelta[]> {
  const rows = new RowDeltas();
  const addVisit = (siteId: Types.ObjectId, siteJson: string, contribution: VisitContribution, sign: 1 | -1) => {
    const json: Record<string, string> = {
      siteId: siteJson,
      day: JSON.stringify(contribution.day ?? null),
      classification: JSON.stringify(contribution.classification ?? null),
    };
    for (const { dimension, field, key: shape } of VISIT_SOURCE_KEYS) {
      const value = contribution.attribution?.[field] ?? null;
      json.value = JSON.stringify(value);
      const row = rows.deltaOf(shape.text(json), (id) => ({
        _id: id,
        key: { siteId, day: contribution.day, classification: contribution.classification, dimension, value },
        inc: { ...NO_VISIT_SUMS },
      }));
      for (const sum of VISIT_SUMS) row.inc[sum] += sign * contribution[sum];
    }
  };
  for await (const slice of slicesOf(changes))
    for (const change of slice) {
      const siteJson = `"${change.siteId.toHexString()}"`;
      if (change.current) addVisit(change.siteId, siteJson, change.current, -1);
      if (change.next) addVisit(change.siteId, siteJson, change.next, 1);
    }
  return rows.rows();
}

/**
 * The visit-hour deltas of visits whose contribution changes from `current` (absent: none yet)
 * to `next` (null: the visit is gone): the old contribution out, the new one in. Every row met
 * gets a delta, zero included, so that it is stamped with the batch (see applyRowDeltas).
 */
export function visitHourDeltas(
  changes: ReadonlyArray<{ siteId: Types.ObjectId; current?: VisitContribution; next: VisitContribution | null }>,
): RowDelta[] {
  const rows = new RowDeltas();
  const addVisit = (siteId: Types.ObjectId, siteJson: string, contribution: VisitContribution, sign: 1 | -1) => {
    const text = VISIT_HOUR_KEY.text({
      siteId: siteJson,
      day: JSON.stringify(contribution.day ?? null),
      hour: JSON.stringify(contribution.hour ?? null),
      classification: JSON.stringify(contribution.classification ?? null),
    });
    const row = rows.deltaOf(text, (id) => ({
      _id: id,
      key: { siteId, day: contribution.day, hour: contribution.hour, classification: contribution.classification },
      inc: { ...NO_VISIT_SUMS },
    }));
    for (const sum of VISIT_SUMS) row.inc[sum] += sign * contribution[sum];
  };
  for (const change of changes) {
    const siteJson = `"${change.siteId.toHexString()}"`;
    if (change.current) addVisit(change.siteId, siteJson, change.current, -1);
    if (change.next) addVisit(change.siteId, siteJson, change.next, 1);
  }
  return rows.rows();
}

/** Bytes of the key digest kept as `_id`: 96 bits, as an ObjectId, make a collision negligible. */
const ROW_ID_BYTES = 12;

/**
 * A digest of the row's key fields in a fixed order: the same key always gives the same `_id`.
 * Stored as 12 binary bytes, where the base64 text of a whole SHA-1 took 28 characters and a
 * string's overhead, in the row and again in its `_id` index entry.
 */
export function rowId(key: Record<string, unknown>): Binary {
  return digestOf(rowKeyText(key));
}

/** The text `rowId` digests: the key's fields sorted by name, with their values. */
export function rowKeyText(key: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(key)
      .sort()
      .map((field) => [field, key[field]]),
  );
}

function digestOf(text: string): Binary {
  return new Binary(createHash('sha1').update(text).digest().subarray(0, ROW_ID_BYTES));
}

/**
 * The row text (`rowKeyText`) of one kind of row key, built straight from the JSON of its values:
 * its fields' order is sorted once here, and a key object (with its spreads and sort) is made
 * only for a row the batch has not met yet. Building and stringifying a key per hit and row was
 * the largest part of the rollup job's own CPU under sustained ingest, most of it garbage.
 * `constants` are fields with the same value in every key of the kind (a set's name).
 */
export class RowKeyShape {
  private readonly sorted: ReadonlyArray<{ field: string; head: string; constant?: string }>;

  /** `fields`: the key's fields (any order, repeats ignored); `constants`: those fixed for the kind. */
  constructor(fields: readonly string[], constants: Readonly<Record<string, unknown>> = {}) {
    this.sorted = [...new Set([...fields, ...Object.keys(constants)])].sort().map((field) => ({
      field,
      head: `[${JSON.stringify(field)},`,
      ...(field in constants ? { constant: JSON.stringify(constants[field] ?? null) } : {}),
    }));
  }

  /**
   * What `rowKeyText` makes of a key of this kind whose values have this JSON (`json[field]`,
   * a missing value's as `null`; JSON.stringify's, so that `toJSON` values such as an ObjectId's
   * give the same text as in the key).
   */
  text(json: Readonly<Record<string, string>>): string {
    let text = '[';
    for (let index = 0; index < this.sorted.length; index++) {
      const { field, head, constant } = this.sorted[index];
      text += `${index === 0 ? '' : ','}${head}${constant ?? json[field]}]`;
    }
    return `${text}]`;
  }
}

const VISITOR_DAY_KEY = new RowKeyShape(['siteId', 'day', 'visitorKey', ...ROLLUP_FIELDS]);
const VISITOR_SET_KEYS = VISITOR_SETS.map((set) => ({
  ...set,
  key: new RowKeyShape(['siteId', 'day', 'visitorKey', 'classification', ...set.fields], { set: set.name }),
}));
const HIT_HOUR_KEYS = HIT_COUNT_SETS.map((set) => ({
  ...set,
  key: new RowKeyShape(['siteId', 'day', 'hour', 'classification', ...set.fields], { set: set.name }),
}));
const HIT_DAY_KEYS = HIT_DAY_SETS.map((set) => ({
  ...set,
  key: new RowKeyShape(['siteId', 'day', 'classification', ...set.fields], { set: set.name }),
}));
const VISIT_SOURCE_KEYS = ATTRIBUTION_DIMENSIONS.map((dimension) => ({
  dimension,
  field: DIMENSION_SOURCES[dimension].field,
  key: new RowKeyShape(['siteId', 'day', 'classification', 'value'], { dimension }),
}));
const VISIT_HOUR_KEY = new RowKeyShape(['siteId', 'day', 'hour', 'classification']);

/**
 * A batch's deltas to one collection, one per row, in the order the batch first meets them. Rows
 * are told apart by their key's text (`rowKeyText`, made by a RowKeyShape) and digested once
 * each: a digest per hit and visit met was a tenth of the app's CPU under sustained ingest.
 */
export class RowDeltas<T extends RowDelta = RowDelta> {
  private readonly byRowText = new Map<string, T>();

  /** The delta of the row whose key has row text `text`, made by `create` the first time the batch meets the row. */
  deltaOf(text: string, create: (id: Binary) => T): T {
    let row = this.byRowText.get(text);
    if (!row) {
      row = create(digestOf(text));
      this.byRowText.set(text, row);
    }
    return row;
  }

  rows(): T[] {
    return [...this.byRowText.values()];
  }
}
