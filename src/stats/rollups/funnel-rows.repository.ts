import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { Types, type Model } from 'mongoose';
import { bulkWriteInSlices } from '../../database/slices.js';
import { addToFunnelEntry, type FunnelCountEntry, type FunnelCountTally, type StepDays } from './funnel-counts.js';
import { FunnelCountRow, FunnelRowsState, FunnelVisitorRow, FunnelVisitRow } from './funnel-rows.schema.js';
import { goalRowId } from './goal-counts.js';

/** Keys per `$in` and documents per write: bounded commands, so none holds the store long. */
const CHUNK = 500;

const chunks = <T>(items: readonly T[]): T[][] =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_value, index) =>
    items.slice(index * CHUNK, (index + 1) * CHUNK),
  );

/** A funnel whose rows are complete, in the zone and for the steps they were built for. */
export interface ReadyFunnel {
  funnelId: string;
  timezone: string;
  goalIds: string[];
}

/** A funnel visit row without its `_id` (computed from funnel, visit and classification). */
export type FunnelVisit = Omit<FunnelVisitRow, '_id' | 'siteId'>;

/** A visitor's step days as the counts hold them, and those a batch recorded. */
export type FunnelVisitor = Pick<FunnelVisitorRow, 'funnelId' | 'classification' | 'visitorKey'> & {
  current: StepDays;
  next?: StepDays;
  nextBatch?: number;
  lastBatch: number;
};

/** A batch's count deltas of one funnel and classification. */
export interface FunnelTally {
  funnelId: string;
  classification: string;
  tally: FunnelCountTally;
}

export function funnelVisitId(funnelId: string, visitId: string, classification: string): string {
  return goalRowId('member', funnelId, ['funnel-visit', visitId, classification]);
}

export function funnelVisitorId(funnelId: string, classification: string, visitorKey: string): string {
  return goalRowId('member', funnelId, ['funnel-visitor', classification, visitorKey]);
}

function countId(funnelId: string, classification: string, step: number, day: string): string {
  return goalRowId('count', funnelId, ['funnel', classification, String(step), day]);
}

/**
 * The funnel rows (stats_funnel_visits, _visitors, _counts, _states), written only by the rollup
 * job through FunnelRowsBuilder and read by saved-funnel reads.
 */
@Injectable()
export class FunnelRowsRepository {
  constructor(
    @InjectModel(FunnelVisitRow.name) private readonly visits: Model<FunnelVisitRow>,
    @InjectModel(FunnelVisitorRow.name) private readonly visitors: Model<FunnelVisitorRow>,
    @InjectModel(FunnelCountRow.name) private readonly counts: Model<FunnelCountRow>,
    @InjectModel(FunnelRowsState.name) private readonly states: Model<FunnelRowsState>,
  ) {}

  /** The funnels of these sites whose rows are complete. */
  async findReadyFunnels(siteIds: readonly string[]): Promise<Map<string, ReadyFunnel[]>> {
    const docs = await this.states.find({ siteId: { $in: siteIds.map((id) => new Types.ObjectId(id)) } }).lean();
    const bySite = new Map<string, ReadyFunnel[]>();
    for (const doc of docs) {
      const list = bySite.get(doc.siteId.toHexString()) ?? [];
      list.push({ funnelId: doc._id, timezone: doc.timezone, goalIds: doc.goalIds });
      bySite.set(doc.siteId.toHexString(), list);
    }
    return bySite;
  }

  /** The funnel visit rows of these visits (every funnel). */
  async findVisitsOf(visitIds: readonly string[]): Promise<FunnelVisitRow[]> {
    const found: FunnelVisitRow[] = [];
    for (const chunk of chunks(visitIds))
      found.push(...(await this.visitRows.find({ visitId: { $in: chunk } }).toArray()));
    return found;
  }

  /** The funnel visits of these visitors on one funnel and classification, optionally starting in `[fromDay, toDay]`. */
  async findVisitorVisits(
    funnelId: string,
    classification: string,
    visitorKeys: readonly string[],
    days?: { fromDay: string; toDay: string },
  ): Promise<FunnelVisitRow[]> {
    const found: FunnelVisitRow[] = [];
    for (const chunk of chunks(visitorKeys))
      found.push(
        ...(await this.visitRows
          .find({
            funnelId,
            classification,
            visitorKey: { $in: chunk },
            ...(days ? { day: { $gte: days.fromDay, $lte: days.toDay } } : {}),
          })
          .toArray()),
      );
    return found;
  }

  /** The funnel visits crossing the midnight that starts `day`. */
  findCrossing(funnelId: string, classification: string, day: string): Promise<FunnelVisitRow[]> {
    return this.visitRows.find({ funnelId, classification, midnights: day }).toArray();
  }

  /** The visitor documents of these ids. */
  async findVisitors(ids: readonly string[]): Promise<Map<string, FunnelVisitorRow>> {
    const found = new Map<string, FunnelVisitorRow>();
    for (const chunk of chunks(ids))
      for (const doc of await this.visitorRows.find({ _id: { $in: chunk } }).toArray()) found.set(doc._id, doc);
    return found;
  }

  /**
   * Records the step days batch `batch` moves these visitors to, unless it already did (a replay
   * keeps what the first attempt recorded).
   */
  async recordFunnelVisitors(
    siteId: string,
    batch: number,
    changes: ReadonlyArray<{ visitor: Omit<FunnelVisitor, 'lastBatch' | 'current'>; next: StepDays }>,
  ): Promise<void> {
    const site = new Types.ObjectId(siteId);
    for (const chunk of chunks(changes)) {
      const operations: Array<AnyBulkWriteOperation<FunnelVisitorRow>> = chunk.map(({ visitor, next }) => ({
        updateOne: {
          filter: {
            _id: funnelVisitorId(visitor.funnelId, visitor.classification, visitor.visitorKey),
            nextBatch: { $ne: batch },
          },
          update: {
            $set: { next, nextBatch: batch },
            $setOnInsert: {
              siteId: site,
              funnelId: visitor.funnelId,
              classification: visitor.classification,
              visitorKey: visitor.visitorKey,
              current: [],
              lastBatch: 0,
            },
          },
          upsert: true,
        },
      }));
      await bulkWriteInSlices(this.visitorRows, operations, { duplicatesApplied: true });
    }
  }

  /** The visitors whose step days batch `batch` recorded and has not finished. */
  findRecordedFunnelVisitors(batch: number): Promise<FunnelVisitorRow[]> {
    return this.visitorRows.find({ nextBatch: batch }).toArray();
  }

  /** Sets these funnel visit rows (by funnel, visit and classification) and deletes those in `gone`. */
  async writeFunnelVisits(siteId: string, rows: readonly FunnelVisit[], gone: readonly string[]): Promise<void> {
    const site = new Types.ObjectId(siteId);
    for (const chunk of chunks(rows)) {
      const operations: Array<AnyBulkWriteOperation<FunnelVisitRow>> = chunk.map((row) => {
        const _id = funnelVisitId(row.funnelId, row.visitId, row.classification);
        return { replaceOne: { filter: { _id }, replacement: { _id, siteId: site, ...row }, upsert: true } };
      });
      await bulkWriteInSlices(this.visitRows, operations, { duplicatesApplied: true });
    }
    for (const chunk of chunks(gone)) await this.visitRows.deleteMany({ _id: { $in: chunk } });
  }

  /**
   * Adds a batch's count deltas, once per count document: read, added to, written filtered on
   * `lastBatch < batch` and stamped with it (as GoalRowsRepository.applyCountDeltas).
   */
  async applyFunnelCountDeltas(siteId: string, batch: number, tallies: readonly FunnelTally[]): Promise<void> {
    const site = new Types.ObjectId(siteId);
    const deltas = tallies.flatMap(({ funnelId, classification, tally }) =>
      [...tally.values()].map((delta) => ({
        id: countId(funnelId, classification, delta.step, delta.day),
        funnelId,
        classification,
        delta,
      })),
    );
    for (const chunk of chunks(deltas)) {
      const existing = new Map(
        (await this.countRows.find({ _id: { $in: chunk.map(({ id }) => id) } }).toArray()).map((row) => [row._id, row]),
      );
      const operations: Array<AnyBulkWriteOperation<FunnelCountRow>> = [];
      for (const { id, funnelId, classification, delta } of chunk) {
        const row = existing.get(id);
        if (row && row.lastBatch >= batch) continue;
        operations.push({
          updateOne: {
            filter: { _id: id, lastBatch: { $not: { $gte: batch } } },
            update: {
              $set: {
                siteId: site,
                funnelId,
                classification,
                step: delta.step,
                day: delta.day,
                ...addToFunnelEntry(row, delta),
                lastBatch: batch,
              },
            },
            upsert: true,
          },
        });
      }
      // A document already holding the batch fails its filter, and its upsert meets the same _id.
      if (operations.length > 0) await bulkWriteInSlices(this.countRows, operations, { duplicatesApplied: true });
    }
  }

  /** The visitors batch `batch` recorded now hold their new step days in the counts. */
  async finishFunnelVisitors(batch: number, recorded: readonly FunnelVisitorRow[]): Promise<void> {
    for (const chunk of chunks(recorded))
      await this.visitorRows.bulkWrite(
        chunk.map((doc) => ({
          updateOne: {
            filter: { _id: doc._id, nextBatch: batch },
            update: { $set: { current: doc.next ?? [], lastBatch: batch }, $unset: { next: '', nextBatch: '' } },
          },
        })),
        { ordered: false },
      );
  }

  /** A funnel's rows from nothing (a backfill), then its state: a backfill cut short leaves no state and is redone. */
  async replaceFunnelRows(
    siteId: string,
    ready: ReadyFunnel,
    visits: readonly FunnelVisit[],
    visitors: ReadonlyArray<{ classification: string; visitorKey: string; current: StepDays }>,
    tallies: readonly FunnelTally[],
  ): Promise<void> {
    const site = new Types.ObjectId(siteId);
    const { funnelId } = ready;
    await this.deleteFunnelRows([funnelId]);
    for (const chunk of chunks(visits))
      await this.visitRows.insertMany(
        chunk.map((row) => ({
          _id: funnelVisitId(funnelId, row.visitId, row.classification),
          siteId: site,
          ...row,
        })),
        { ordered: false },
      );
    for (const chunk of chunks(visitors))
      await this.visitorRows.insertMany(
        chunk.map((visitor) => ({
          _id: funnelVisitorId(funnelId, visitor.classification, visitor.visitorKey),
          siteId: site,
          funnelId,
          ...visitor,
          lastBatch: 0,
        })),
        { ordered: false },
      );
    for (const { classification, tally } of tallies)
      for (const chunk of chunks([...tally.values()]))
        await this.countRows.insertMany(
          chunk.map((delta) => ({
            _id: countId(funnelId, classification, delta.step, delta.day),
            siteId: site,
            funnelId,
            classification,
            step: delta.step,
            day: delta.day,
            ...addToFunnelEntry(undefined, delta),
            lastBatch: 0,
          })),
          { ordered: false },
        );
    await this.states.updateOne(
      { _id: funnelId },
      { $set: { siteId: site, timezone: ready.timezone, goalIds: ready.goalIds } },
      { upsert: true },
    );
  }

  /** The rows and states of these funnels (deleted or changed funnels, or funnels to backfill again). */
  async deleteFunnelRows(funnelIds: readonly string[]): Promise<void> {
    const ids = { $in: [...funnelIds] };
    await this.states.deleteMany({ _id: ids });
    await this.visits.deleteMany({ funnelId: ids });
    await this.visitors.deleteMany({ funnelId: ids });
    await this.counts.deleteMany({ funnelId: ids });
  }

  /** Every funnel row of the site (a rebuild or a deleted site): states first, so reads go raw at once. */
  async deleteFunnelSite(siteId: string): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.states.deleteMany({ siteId: site });
    await this.visits.deleteMany({ siteId: site });
    await this.visitors.deleteMany({ siteId: site });
    await this.counts.deleteMany({ siteId: site });
  }

  /** The count entries of one funnel and classification over `[fromDay, toDay]`. */
  findCounts(
    funnelId: string,
    classification: string,
    fromDay: string,
    toDay: string,
  ): Promise<Array<FunnelCountEntry & { step: number }>> {
    return this.countRows
      .find(
        { funnelId, classification, day: { $gte: fromDay, $lte: toDay } },
        { projection: { _id: 0, step: 1, fresh: 1, returning: 1 } },
      )
      .toArray();
  }

  private get visitRows(): Collection<FunnelVisitRow> {
    return this.visits.collection as unknown as Collection<FunnelVisitRow>;
  }

  private get visitorRows(): Collection<FunnelVisitorRow> {
    return this.visitors.collection as unknown as Collection<FunnelVisitorRow>;
  }

  private get countRows(): Collection<FunnelCountRow> {
    return this.counts.collection as unknown as Collection<FunnelCountRow>;
  }
}
