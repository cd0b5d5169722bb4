import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Binary, Collection } from 'mongodb';
import { Types, type Model } from 'mongoose';
import { isNotFoundError } from '../../database/database-errors.js';
import { bulkWriteInSlices, SLICE } from '../../database/slices.js';
import { CLASSIFICATIONS } from '../../hits/hit.schema.js';
import {
  contributionOf,
  rowId,
  storedContribution,
  type BatchDeltas,
  type RowDelta,
  type VisitContribution,
} from './batch-deltas.js';
import { VisitContributionRow } from './visit-contribution.schema.js';
import { HitDay } from './hit-day.schema.js';
import { HitHour } from './hit-hour.schema.js';
import { RollupState, type RebuildPrepared } from './rollup-state.schema.js';
import { VisitHour } from './visit-hour.schema.js';
import { VisitSourceDay } from './visit-source.schema.js';
import { VisitorDay } from './visitor-day.schema.js';
import { VisitorSetRow } from './visitor-set.schema.js';
import { VisitorCountRow } from './visitor-count.schema.js';
import type { CountDelta, VisitorCount, VisitorSetSample } from './visitor-count-keys.js';
import {
  storedVisitorRowField,
  storedVisitorRowFields,
  visitorRowCondition,
  visitorRowOf,
  visitorRowPath,
} from './visitor-row-names.js';

const WATERMARK_ID = 'watermark';
const BATCH_ID = 'batch';
const ATTRIBUTION_COUNTS_ID = 'attribution-counts';
const siteStateId = (siteId: string) => `site:${siteId}`;

/**
 * The shape of the rollup rows. A site built with another version lacks rows a read would rely on
 * (2 added the visitor sets, hit hours and visit hours; 3 the visitor counts and the daily hit
 * counts; 4 the hits in the visitor counts, which replaced the daily place and network counts;
 * 5 the weekly visitor counts; 6 rows kept by additions, keyed by a digest of their key; 7 one
 * visitor-count document per value, kept by additions, and the creating batch on visitor-day
 * rows; 8 no traffic source in any row, as it became an attribute of the visit; 9 12-byte
 * binary digests as `_id`, first/last hit times on the `visitor` set only, the host in the
 * `visitor` set, no `page` or `page_host` set, visit contributions stored without what they
 * imply; 10 visit contributions holding their visitor, attribution and hits per day, the
 * visit-source rows and the attribution count keys; 11 the rows' batch numbers as `b` and `f`,
 * `identified` only when set, visit contributions with the hour as a number, the classification
 * only when not USER and the attribution keyed by position; 12 the visitor rows' visitor,
 * classification, sums and hit times under short names, visitor-row-names.ts: docs/storage.md),
 * so it is read raw until the job has rebuilt it.
 */
export const ROLLUP_VERSION = 12;

/**
 * Visitor keys per `$in`: with both classifications, within the embedded planner's 1,000 index
 * intervals, and small for MongoDB.
 */
const VISITOR_CHUNK = 500;

/** Count documents read or written per store call: bounds a call's size and memory. */
const COUNT_WRITE_CHUNK = 5_000;

/** A visitor-count document as stored: one key, scope, unit and value (VisitorCountRow). */
type CountDocument = Omit<VisitorCountRow, 'siteId'> & { _id: Binary; siteId: Types.ObjectId; lastBatch?: number };

/** The `_id` of a count document: a digest of its site, key, scope, unit, day and value. */
function countRowId(
  siteId: Types.ObjectId,
  row: { key: string; scope: string; unit: string; day: string; values: Record<string, string | null> },
): Binary {
  return rowId({
    siteId: siteId.toHexString(),
    key: row.key,
    scope: row.scope,
    unit: row.unit,
    day: row.day,
    values: row.values,
  });
}

/**
 * A row's key fields as stored: a null value (no source, no city, …) is left out, as every read
 * takes a missing field for null — `$match` equality and `$in`/`$nin` match both alike, groups
 * read values through `$ifNull` (dimensionKeys), and the counts through keyValues. The `_id`
 * digest is of the whole key, so rows stay one per key.
 */
function storedKey(key: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(key).filter(([, value]) => value !== null));
}

/**
 * Stored names of the bookkeeping fields of the rows the job adds batches to (applyRowDeltas):
 * the last batch added (`b`) and, on visitor-day rows, the one that created the row (`f`). Every
 * row carries them (a visitor-day row both, ~1 row a hit), where `lastBatch` and `firstBatch` took
 * 17 more bytes a row; the code reads them under those names (visitorHistories).
 */
const ROW_LAST_BATCH = 'b';
const ROW_FIRST_BATCH = 'f';

/** A visitor-day row read with its creating batch: `f` under its name in the code. */
function renameFirstBatch(row: Record<string, unknown>): void {
  if (ROW_FIRST_BATCH in row) {
    row.firstBatch = row[ROW_FIRST_BATCH];
    delete row[ROW_FIRST_BATCH];
  }
}

/** A stats_visit_contributions row with its contributions read back (contributionOf). */
export interface VisitContributionRecord {
  _id: string;
  siteId: Types.ObjectId;
  current?: VisitContribution;
  next?: VisitContribution | null;
  /** The batch whose change `next` is, while it is being applied. */
  nextBatch?: number;
}

function contributionRecord(row: VisitContributionRow): VisitContributionRecord {
  return {
    _id: row._id,
    siteId: row.siteId,
    ...(row.current ? { current: contributionOf(row.current, row.v) } : {}),
    ...(row.next !== undefined ? { next: row.next && contributionOf(row.next, row.v) } : {}),
    ...(row.nextBatch !== undefined ? { nextBatch: row.nextBatch } : {}),
  };
}

/** The derived collections a rollup batch adds to. */
export type DerivedCollection = keyof Omit<BatchDeltas, 'days'> | 'visitHours' | 'visitSources';

export interface SiteRollupState {
  timezone: string | null;
  rebuild: boolean;
  version: number;
  /** How many times the site was flagged for a rebuild, ever (see `markSiteBuilt`). */
  rebuildRequests: number;
  /** The Sunday through which the site's weekly visitor counts are complete (null: none yet). */
  weeksThrough: string | null;
  /** A rebuild under way whose rows were reset for this zone, version and request count. */
  prepared: RebuildPrepared | null;
}

/** Which visitor-count rows a recount replaces: all of the site's, or those of these days and weeks (Mondays). */
export type CountRowsScope = 'all' | { days: string[]; weeks: string[] };

/**
 * Indexes an earlier row version created and no read of this version uses: a row of version 12
 * stores the visitor and classification as `v` and `c`, so `{ siteId, classification, visitorKey }`
 * would hold one entry a row for fields no row has. Dropped at boot, by name, so an index an
 * operator created by hand under another name stays.
 */
export const RETIRED_ROLLUP_INDEXES: ReadonlyArray<{ collection: 'stats_visitor_days'; name: string }> = [
  { collection: 'stats_visitor_days', name: 'siteId_1_classification_1_visitorKey_1' },
];

/** The rollup collections (owned by stats): visitor rows, visit hours, the watermark, per-site state. */
@Injectable()
export class RollupRepository implements OnModuleInit {
  private readonly logger = new Logger(RollupRepository.name);

  constructor(
    @InjectModel(VisitorDay.name) private readonly rows: Model<VisitorDay>,
    @InjectModel(VisitorSetRow.name) private readonly setRows: Model<VisitorSetRow>,
    @InjectModel(VisitHour.name) private readonly visitHours: Model<VisitHour>,
    @InjectModel(VisitSourceDay.name) private readonly visitSources: Model<VisitSourceDay>,
    @InjectModel(HitHour.name) private readonly hitHours: Model<HitHour>,
    @InjectModel(HitDay.name) private readonly hitDays: Model<HitDay>,
    @InjectModel(RollupState.name) private readonly state: Model<RollupState>,
    @InjectModel(VisitorCountRow.name) private readonly counts: Model<VisitorCountRow>,
    @InjectModel(VisitContributionRow.name) private readonly contributions: Model<VisitContributionRow>,
  ) {}

  /** Upgrading needs no step by hand: the indexes of older row versions go at the first boot. */
  async onModuleInit(): Promise<void> {
    for (const { collection, name } of RETIRED_ROLLUP_INDEXES) {
      try {
        await this.rows.db.collection(collection).dropIndex(name);
        this.logger.log(`Dropped index ${collection}.${name}, which an earlier row version used`);
      } catch (error) {
        // Not there: a fresh database, an earlier boot, or another instance booting at the same time.
        if (!isNotFoundError(error)) throw error;
      }
    }
  }

  private get contributionRows(): Collection<VisitContributionRow> {
    return this.contributions.collection as unknown as Collection<VisitContributionRow>;
  }

  /** The visit changes batch `batch` has recorded (see VisitContributionRow), not yet made current. */
  async findVisitSnapshots(batch: number): Promise<VisitContributionRecord[]> {
    return (await this.contributionRows.find({ nextBatch: batch }, { batchSize: SLICE }).toArray()).map(
      contributionRecord,
    );
  }

  /** The current contributions of these visits. */
  async findVisitContributions(visitIds: string[]): Promise<VisitContributionRecord[]> {
    if (visitIds.length === 0) return [];
    return (await this.contributionRows.find({ _id: { $in: visitIds } }, { batchSize: SLICE }).toArray()).map(
      contributionRecord,
    );
  }

  /** Records what batch `batch` changes each of these visits' contribution to (null: gone). */
  async saveVisitSnapshots(
    batch: number,
    snapshots: Array<{ visitId: string; siteId: Types.ObjectId; next: VisitContribution | null }>,
  ): Promise<void> {
    await bulkWriteInSlices(
      this.contributionRows,
      snapshots.map(({ visitId, siteId, next }) => ({
        updateOne: {
          filter: { _id: visitId },
          update: {
            $set: {
              siteId,
              ...(next?.visitorKey !== undefined ? { v: next.visitorKey } : {}),
              next: next && storedContribution(next),
              nextBatch: batch,
            },
          },
          upsert: true,
        },
      })),
    );
  }

  /** Batch `batch` is applied: its recorded contributions become current (a gone visit's row goes). */
  async finalizeVisitSnapshots(batch: number, snapshots: VisitContributionRecord[]): Promise<void> {
    await bulkWriteInSlices(
      this.contributionRows,
      snapshots.map(({ _id, next }) =>
        next
          ? {
              updateOne: {
                filter: { _id, nextBatch: batch },
                update: { $set: { current: storedContribution(next) }, $unset: { next: 1, nextBatch: 1 } },
              },
            }
          : { deleteOne: { filter: { _id, nextBatch: batch } } },
      ),
    );
  }

  /**
   * Visit-hour rows left without visits once a batch is done (every visit of that hour moved or
   * went) say nothing: removed, as a rebuild would not create them.
   */
  async deleteEmptyVisitHours(siteId: Types.ObjectId, days: string[]): Promise<void> {
    if (days.length === 0) return;
    await this.visitHours.deleteMany({ siteId, day: { $in: days }, visits: 0 });
    await this.visitSources.deleteMany({ siteId, day: { $in: days }, visits: 0 });
  }

  /**
   * The contributions of the listed visitors of the site, or of all its visitors, one array per
   * visitor (`{ siteId, v }`): a visitor's attribution history (VisitorCountsBuilder).
   */
  async *contributionHistories(siteId: string, visitorKeys?: string[]): AsyncGenerator<VisitContributionRecord[]> {
    const site = new Types.ObjectId(siteId);
    const filters: Record<string, unknown>[] = [];
    if (!visitorKeys) filters.push({ siteId: site, v: { $exists: true } });
    else
      for (let index = 0; index < visitorKeys.length; index += VISITOR_CHUNK)
        filters.push({ siteId: site, v: { $in: visitorKeys.slice(index, index + VISITOR_CHUNK) } });
    for (const filter of filters) {
      let current: VisitContributionRecord[] = [];
      let visitor: string | undefined;
      const cursor = this.contributionRows.find(filter).sort({ v: 1 }).batchSize(10_000);
      for await (const row of cursor) {
        if (current.length > 0 && visitor !== row.v) {
          yield current;
          current = [];
        }
        visitor = row.v;
        current.push(contributionRecord(row));
      }
      if (current.length > 0) yield current;
    }
  }

  /**
   * The last batch whose attribution count deltas are all applied. Recorded before the batch's
   * contributions become current: from then on a replay of the batch would read a history half
   * made current, so it must not compute them again.
   */
  async findAttributionCountsBatch(): Promise<number> {
    const doc = await this.state.findById(ATTRIBUTION_COUNTS_ID).lean();
    return doc?.batch ?? 0;
  }

  async saveAttributionCountsBatch(batch: number): Promise<void> {
    await this.state.updateOne({ _id: ATTRIBUTION_COUNTS_ID }, { $set: { batch } }, { upsert: true });
  }

  /** Every hit received at or before this instant is in the rollup; the epoch before the first run. */
  async findWatermark(): Promise<Date> {
    const doc = await this.state.findById(WATERMARK_ID).lean();
    return doc?.at ?? new Date(0);
  }

  async saveWatermark(at: Date): Promise<void> {
    await this.state.updateOne({ _id: WATERMARK_ID }, { $set: { at } }, { upsert: true });
  }

  /** The number of the last rollup batch claimed (0 before the first). */
  async findLastBatch(): Promise<number> {
    const doc = await this.state.findById(BATCH_ID).lean();
    return doc?.batch ?? 0;
  }

  /** Takes the next rollup batch number. */
  async nextBatch(): Promise<number> {
    const doc = await this.state
      .findOneAndUpdate({ _id: BATCH_ID }, { $inc: { batch: 1 } }, { upsert: true, returnDocument: 'after' })
      .lean();
    return doc!.batch!;
  }

  /**
   * Adds batch `batch`'s deltas to one derived collection, one upsert per row, each only where
   * the row's `lastBatch` is below `batch` and setting it: applying a batch again (after a crash
   * part way) changes only the rows the first attempt did not reach. A row already holding the
   * batch fails its filter, and its upsert meets the same `_id`: that duplicate-key error is the
   * "already applied" answer, not a failure.
   */
  async applyRowDeltas(collection: DerivedCollection, batch: number, deltas: RowDelta[]): Promise<void> {
    // Visitor rows store their common fields under short names (visitor-row-names.ts).
    const stored =
      collection === 'visitorDays' || collection === 'visitorSets'
        ? storedVisitorRowFields
        : <T>(fields: Record<string, T>) => fields;
    const operations: AnyBulkWriteOperation[] = deltas.map((delta) => ({
      updateOne: {
        filter: { _id: delta._id, [ROW_LAST_BATCH]: { $not: { $gte: batch } } },
        update: {
          // Visitor-day rows record the batch that created them: its new visitor-days (VisitorCountsBuilder.applyBatch).
          $setOnInsert: {
            ...stored(storedKey(delta.key)),
            ...(collection === 'visitorDays' ? { [ROW_FIRST_BATCH]: batch } : {}),
          },
          $inc: stored(delta.inc),
          $set: { [ROW_LAST_BATCH]: batch },
          ...(delta.visitor
            ? {
                $min: stored({ firstTs: delta.visitor.firstTs }),
                // `identified` is stored once a hit of the row was identified, absent before: user
                // stats add it up (`$sum` of a missing or null `$max` is 0), as a 0 would be.
                $max: stored<unknown>({
                  lastTs: delta.visitor.lastTs,
                  ...(delta.visitor.identified > 0 ? { identified: delta.visitor.identified } : {}),
                }),
              }
            : {}),
        },
        upsert: true,
      },
    }));
    await bulkWriteInSlices(this.derived(collection).collection, operations, {
      duplicatesApplied: true,
    });
  }

  private derived(collection: DerivedCollection): Model<unknown> {
    const models: Record<DerivedCollection, Model<unknown>> = {
      visitorDays: this.rows as Model<unknown>,
      visitorSets: this.setRows as Model<unknown>,
      hitHours: this.hitHours as Model<unknown>,
      hitDays: this.hitDays as Model<unknown>,
      visitHours: this.visitHours as Model<unknown>,
      visitSources: this.visitSources as Model<unknown>,
    };
    return models[collection];
  }

  async findSiteState(siteId: string): Promise<SiteRollupState> {
    const doc = await this.state.findById(siteStateId(siteId)).lean();
    return {
      timezone: doc?.timezone ?? null,
      rebuild: doc?.rebuild ?? false,
      version: doc?.version ?? 1,
      rebuildRequests: doc?.rebuildRequests ?? 0,
      weeksThrough: doc?.weeksThrough ?? null,
      prepared: doc?.prepared ?? null,
    };
  }

  /** Records that the site's weekly visitor counts are complete through the week ending on `sunday`. */
  async saveWeeksThrough(siteId: string, sunday: string): Promise<void> {
    await this.state.updateOne({ _id: siteStateId(siteId) }, { $set: { weeksThrough: sunday } }, { upsert: true });
  }

  /** Whether reads may use the site's rows when it is in `timezone`. */
  static isUsable(state: SiteRollupState, timezone: string): boolean {
    return !state.rebuild && state.timezone === timezone && state.version === ROLLUP_VERSION;
  }

  /**
   * Whether a rebuild for `timezone` is under way with its rows already reset (`markRebuildPrepared`)
   * and nothing since asking for another (no purge or erasure, same zone and row version): the
   * batches still to come complete it, so it is resumed, not started over.
   */
  static isRebuildPrepared(state: SiteRollupState, timezone: string): boolean {
    const { prepared } = state;
    return (
      state.rebuild &&
      prepared !== null &&
      prepared.timezone === timezone &&
      prepared.version === ROLLUP_VERSION &&
      prepared.requests === state.rebuildRequests
    );
  }

  /** The rebuild's rows are reset and every hit and visit of the site awaits the rollups (see isRebuildPrepared). */
  async markRebuildPrepared(siteId: string, timezone: string, requests: number): Promise<void> {
    const prepared: RebuildPrepared = { timezone, version: ROLLUP_VERSION, requests };
    await this.state.updateOne({ _id: siteStateId(siteId), rebuild: true }, { $set: { prepared } });
  }

  /**
   * Records that the site's rows are complete in `timezone`, in this version's shape, and may be
   * used — unless it was flagged again since the rebuild read its state (`requestsSeen`, its
   * `rebuildRequests` then): a purge or erasure during the rebuild may have deleted hits the
   * rebuild had already rolled up, so the flag stays and the next run rebuilds the site again.
   */
  async markSiteBuilt(siteId: string, timezone: string, requestsSeen: number): Promise<void> {
    const _id = siteStateId(siteId);
    await this.state.updateOne({ _id }, { $set: { timezone, version: ROLLUP_VERSION } }, { upsert: true });
    const unchanged = requestsSeen > 0 ? requestsSeen : { $exists: false };
    await this.state.updateOne({ _id, rebuildRequests: unchanged }, { $unset: { rebuild: 1, prepared: 1 } });
  }

  /**
   * A rebuild is starting: until `markSiteBuilt`, the rows are not the site's, whatever zone its
   * state names. A run cut short mid-rebuild leaves rows of a half-done build, maybe in a zone the
   * site has left again since; the flag keeps the site listed for a rebuild (findSitesToRebuild)
   * and off the reads. `rebuildRequests` does not move, so the finished rebuild clears the flag.
   */
  async markRebuildStarted(siteId: string): Promise<void> {
    await this.state.updateOne(
      { _id: siteStateId(siteId) },
      { $set: { rebuild: true }, $unset: { prepared: 1 } },
      { upsert: true },
    );
  }

  /** Stops reads from using the site's rows until the job has rebuilt them (after a purge or erasure). */
  async markSiteForRebuild(siteId: string): Promise<void> {
    await this.state.updateOne(
      { _id: siteStateId(siteId) },
      { $set: { rebuild: true }, $inc: { rebuildRequests: 1 } },
      { upsert: true },
    );
  }

  /** The zone each built site's rows were built in, by site id. */
  async findBuiltZones(): Promise<Map<string, string>> {
    const docs = await this.state
      .find({ _id: { $regex: '^site:' }, timezone: { $type: 'string' } }, { _id: 1, timezone: 1 })
      .lean();
    return new Map(docs.map((doc) => [doc._id.slice('site:'.length), doc.timezone!]));
  }

  /** Sites flagged for a rebuild, or built in an older row shape. */
  async findSitesToRebuild(): Promise<string[]> {
    const docs = await this.state
      .find({ _id: { $regex: '^site:' }, $or: [{ rebuild: true }, { version: { $ne: ROLLUP_VERSION } }] }, { _id: 1 })
      .lean();
    return docs.map((doc) => doc._id.slice('site:'.length));
  }

  /** A deleted site: its rows and its state go, so no later run lists it for a rebuild again. */
  async forgetSite(siteId: string): Promise<void> {
    await this.deleteSiteRows(siteId);
    await this.state.deleteOne({ _id: siteStateId(siteId) });
  }

  async deleteSiteRows(siteId: string): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.rows.deleteMany({ siteId: site });
    await this.setRows.deleteMany({ siteId: site });
    await this.hitHours.deleteMany({ siteId: site });
    await this.hitDays.deleteMany({ siteId: site });
    await this.visitHours.deleteMany({ siteId: site });
    await this.visitSources.deleteMany({ siteId: site });
    await this.contributions.deleteMany({ siteId: site });
    await this.counts.deleteMany({ siteId: site });
  }

  /**
   * The distinct visitors of the site's days (`{ siteId, day }` on stats_visitor_days), grouped
   * through a cursor: `distinct` answers one document, capped at 16 MB, which a busy site's week of
   * visitors outgrows (about 400,000).
   */
  async findVisitorsOfDays(siteId: string, days: string[]): Promise<string[]> {
    if (days.length === 0) return [];
    const keys: string[] = [];
    const cursor = this.rows.collection.aggregate<{ _id: string }>([
      { $match: { siteId: new Types.ObjectId(siteId), day: { $in: days } } },
      { $group: { _id: visitorRowPath('visitorKey') } },
    ]);
    for await (const { _id } of cursor) keys.push(String(_id));
    return keys;
  }

  /**
   * Visitor-day rows (stats_visitor_days), `fields` projected, one array per visitor with every day
   * of its history: of the listed visitors (`{ siteId, classification, visitorKey }`), or of every
   * visitor of the site (`{ siteId, day }`).
   */
  async *visitorHistories(
    siteId: string,
    fields: readonly string[],
    visitorKeys?: string[],
  ): AsyncGenerator<VisitorSetSample[]> {
    const site = new Types.ObjectId(siteId);
    const projection: Record<string, 0 | 1> = { _id: 0, visitorKey: 1, day: 1, classification: 1 };
    const firstBatch = fields.includes('firstBatch');
    for (const field of fields) projection[field === 'firstBatch' ? ROW_FIRST_BATCH : field] = 1;
    const filters: Record<string, unknown>[] = [];
    if (!visitorKeys) filters.push({ siteId: site });
    else
      for (let index = 0; index < visitorKeys.length; index += VISITOR_CHUNK)
        filters.push({
          siteId: site,
          classification: { $in: CLASSIFICATIONS },
          visitorKey: { $in: visitorKeys.slice(index, index + VISITOR_CHUNK) },
        });
    for (const filter of filters) {
      let current: VisitorSetSample[] = [];
      const cursor = this.rows.collection
        .find(visitorRowCondition(filter), { projection: storedVisitorRowFields(projection) })
        .sort({ [storedVisitorRowField('visitorKey')]: 1, day: 1 })
        .batchSize(10_000);
      for await (const stored of cursor) {
        const row = visitorRowOf<VisitorSetSample>(stored);
        if (firstBatch) renameFirstBatch(row);
        if (current.length > 0 && current[0].visitorKey !== row.visitorKey) {
          yield current;
          current = [];
        }
        current.push(row);
      }
      if (current.length > 0) yield current;
    }
  }

  /**
   * Replaces the site's counts of these days and weeks (or all of them) with `counts`, one
   * document per key, scope, unit and value, its `_id` a digest of those (countRowId), so that
   * the job's deltas (applyCountDeltas) meet it.
   */
  async replaceVisitorCounts(siteId: string, replacing: CountRowsScope, counts: VisitorCount[]): Promise<void> {
    const site = new Types.ObjectId(siteId);
    if (replacing === 'all') await this.counts.deleteMany({ siteId: site });
    else
      for (const [unit, labels] of [
        ['day', replacing.days],
        ['week', replacing.weeks],
      ] as const)
        if (labels.length > 0) await this.counts.deleteMany({ siteId: site, unit, day: { $in: labels } });
    const documents = counts.map(({ key, scope, unit, day, values, fresh, returning, pageviews, events, botHits }) => ({
      _id: countRowId(site, { key, scope, unit, day, values }),
      siteId: site,
      key,
      scope,
      unit,
      day,
      rows: [{ ...(Object.keys(values).length > 0 ? { values } : {}), fresh, returning, pageviews, events, botHits }],
    }));
    for (let index = 0; index < documents.length; index += COUNT_WRITE_CHUNK)
      await this.countRows.insertMany(documents.slice(index, index + COUNT_WRITE_CHUNK), { ordered: false });
  }

  /**
   * Adds a batch's count deltas, once per count row: each row is read, the delta added, and the
   * result written filtered on `lastBatch < batch` and stamped with it, so applying the batch
   * again changes only the rows the first attempt did not reach (as applyRowDeltas). Returning
   * entries left at zero go, as a recount would not list them.
   */
  async applyCountDeltas(siteId: string, batch: number, deltas: CountDelta[]): Promise<void> {
    const site = new Types.ObjectId(siteId);
    for (let index = 0; index < deltas.length; index += COUNT_WRITE_CHUNK) {
      const chunk = deltas.slice(index, index + COUNT_WRITE_CHUNK).map((delta) => ({
        id: countRowId(site, delta),
        delta,
      }));
      const existing = new Map(
        (await this.countRows.find({ _id: { $in: chunk.map(({ id }) => id) } }).toArray()).map((row) => [
          row._id.toString('base64'),
          row,
        ]),
      );
      const operations: Array<AnyBulkWriteOperation<CountDocument>> = [];
      for (const { id, delta } of chunk) {
        const row = existing.get(id.toString('base64'));
        if (row && (row.lastBatch ?? 0) >= batch) continue;
        const entry = row?.rows[0] ?? { fresh: 0, returning: [], pageviews: 0, events: 0, botHits: 0 };
        const returning = new Map(entry.returning.map(({ p, n }) => [p, n]));
        for (const [p, n] of delta.returning) returning.set(p, (returning.get(p) ?? 0) + n);
        const next = {
          ...(Object.keys(delta.values).length > 0 ? { values: delta.values } : {}),
          fresh: entry.fresh + delta.fresh,
          returning: [...returning]
            .filter(([, n]) => n !== 0)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([p, n]) => ({ p, n })),
          pageviews: entry.pageviews + delta.pageviews,
          events: entry.events + delta.events,
          botHits: entry.botHits + delta.botHits,
        };
        const { key, scope, unit, day } = delta;
        operations.push({
          updateOne: {
            filter: { _id: id, lastBatch: { $not: { $gte: batch } } },
            update: { $set: { siteId: site, key, scope, unit, day, rows: [next], lastBatch: batch } },
            upsert: true,
          },
        });
      }
      if (operations.length === 0) continue;
      await bulkWriteInSlices(this.countRows, operations, { duplicatesApplied: true });
    }
  }

  private get countRows(): Collection<CountDocument> {
    return this.counts.collection as unknown as Collection<CountDocument>;
  }
}
