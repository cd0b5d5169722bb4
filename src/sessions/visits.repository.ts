import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection, Document } from 'mongodb';
import type { Model, PipelineStage, Types } from 'mongoose';
import { withoutNullFields } from '../common/collections/without-null-fields.js';
import { bulkWriteErrors } from '../database/bulk-write-errors.js';
import { WHOLE_ANSWER } from '../database/slices.js';
import { Visit } from './schemas/visit.schema.js';
import { DUPLICATE_KEY_CODE } from '../database/database-errors.js';
import type { VisitAttribution } from './sessionize.js';

/**
 * Fields a visit stores even when null. `utmSource` tells a visit that has its attribution (null
 * or not) from one written before visits had referrer and UTM fields, which lacks it
 * (`findVisitsWithoutAttribution`); every other null field is left out (docs/storage.md).
 */
const KEPT_WHEN_NULL: ReadonlySet<string> = new Set(['utmSource']);

/** A visit as `visits` stores it: without its null fields, but for KEPT_WHEN_NULL. */
export function storedVisit<T extends object>(visit: T): T {
  return withoutNullFields(visit, KEPT_WHEN_NULL);
}

/**
 * What a sessionizer batch changes in `visits`, worked out against the visits it read: new
 * visits, visits whose figures changed, and the ids of visits no longer in their window.
 */
export interface VisitChanges {
  created: Visit[];
  changed: Visit[];
  staleIds: string[];
}

@Injectable()
export class VisitsRepository {
  constructor(@InjectModel(Visit.name) private readonly model: Model<Visit>) {}

  /** The driver collection, typed with this schema's string `_id`. */
  private get collection(): Collection<Visit> {
    return this.model.collection as unknown as Collection<Visit>;
  }

  /** The visits of these visitors of one site that overlap [from, to] (one query for a sessionizer batch). */
  findVisitorsVisitsOverlapping(siteId: Types.ObjectId, visitorKeys: string[], from: Date, to: Date): Promise<Visit[]> {
    return this.collection
      .find(
        { siteId, visitorKey: { $in: visitorKeys }, start: { $lte: to }, end: { $gte: from } },
        { batchSize: WHOLE_ANSWER },
      )
      .toArray();
  }

  /**
   * Applies a sessionizer batch's changes in one bulk write: inserts, replacements by the
   * deterministic `_id`, and one delete by ids. Inserting rather than upserting skips a lookup
   * per new visit; should a visit exist after all (an instance that took over an expired lease
   * wrote it meanwhile), it is replaced instead.
   */
  async writeVisitChanges({ created, changed, staleIds }: VisitChanges): Promise<void> {
    const operations: AnyBulkWriteOperation<Visit>[] = [
      ...created.map((visit) => ({ insertOne: { document: storedVisit(visit) } })),
      ...changed.map((visit) => ({
        replaceOne: { filter: { _id: visit._id }, replacement: storedVisit(visit), upsert: true },
      })),
    ];
    if (staleIds.length > 0) operations.push({ deleteMany: { filter: { _id: { $in: staleIds } } } });
    if (operations.length === 0) return;
    try {
      await this.collection.bulkWrite(operations, { ordered: false });
    } catch (error) {
      const writeErrors = bulkWriteErrors(error);
      if (!writeErrors || writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY_CODE)) throw error;
      const existing = writeErrors.map((writeError) => created[writeError.index]);
      await this.collection.bulkWrite(
        existing.map((visit) => ({
          replaceOne: { filter: { _id: visit._id }, replacement: storedVisit(visit), upsert: true },
        })),
        { ordered: false },
      );
    }
  }

  /**
   * Visits written before they carried referrer and UTM fields (`utmSource` absent; a computed
   * visit always has it, null or not). Unindexed: once none is left this scans the collection,
   * which happens once per process (SessionsService).
   */
  findVisitsWithoutAttribution(limit: number): Promise<Array<Pick<Visit, '_id' | 'siteId' | 'visitorKey' | 'start'>>> {
    return this.collection
      .find<Pick<Visit, '_id' | 'siteId' | 'visitorKey' | 'start'>>(
        { utmSource: { $exists: false } },
        { projection: { _id: 1, siteId: 1, visitorKey: 1, start: 1 } },
      )
      .limit(limit)
      .toArray();
  }

  /**
   * Sets the attribution of visits that still lack it. A visit the sessionizer rewrote meanwhile
   * has its own (from the same first hit, or it is another visit now) and is left alone.
   */
  async fillAttribution(fills: Array<{ _id: string; attribution: VisitAttribution }>): Promise<void> {
    if (fills.length === 0) return;
    await this.collection.bulkWrite(
      fills.map(({ _id, attribution }) => ({
        updateOne: { filter: { _id, utmSource: { $exists: false } }, update: { $set: storedVisit(attribution) } },
      })),
      { ordered: false },
    );
  }

  /** A site's visits that began before `instant` and ended at or after it (cut in two by a purge). */
  findVisitsSpanning(siteId: Types.ObjectId, instant: Date): Promise<Array<Pick<Visit, 'visitorKey' | 'end'>>> {
    return this.collection
      .find<Pick<Visit, 'visitorKey' | 'end'>>(
        { siteId, start: { $lt: instant }, end: { $gte: instant } },
        { projection: { visitorKey: 1, end: 1 } },
      )
      .toArray();
  }

  /** Deletes a site's visits that began before `before`; returns how many went. */
  async deleteVisitsStartingBefore(siteId: Types.ObjectId, before: Date): Promise<number> {
    return (await this.collection.deleteMany({ siteId, start: { $lt: before } })).deletedCount;
  }

  /** Deletes every visit of these visitors on one site (erasure); returns how many went. */
  async deleteVisitorsVisits(siteId: Types.ObjectId, visitorKeys: string[]): Promise<number> {
    return (await this.collection.deleteMany({ siteId, visitorKey: { $in: visitorKeys } })).deletedCount;
  }

  /** Runs an analytical pipeline over the visits and returns its rows (the stats module's raw visit reads). */
  aggregate<T extends object>(pipeline: PipelineStage[]): Promise<T[]> {
    return this.collection.aggregate<T & Document>(pipeline as Document[], { allowDiskUse: true }).toArray();
  }
}
