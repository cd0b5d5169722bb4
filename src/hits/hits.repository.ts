import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import type { Model, PipelineStage, Types } from 'mongoose';
import type { SessionHit } from '../sessions/sessionize.js';
import { insertUnordered, type InsertOutcome } from '../database/bulk-write-errors.js';
import { bulkWriteInSlices, SLICE, WHOLE_ANSWER } from '../database/slices.js';
import { Hit } from './hit.schema.js';
import { storedHit } from './stored-hit.js';

export type NewHit = Hit & { _id: Types.ObjectId };

const SESSION_FIELDS = {
  _id: 1,
  visitorKey: 1,
  ts: 1,
  name: 1,
  path: 1,
  classification: 1,
  source: 1,
  referrer: 1,
  utmSource: 1,
  utmMedium: 1,
  utmCampaign: 1,
  utmTerm: 1,
  utmContent: 1,
  countryCode: 1,
  visitId: 1,
};

/**
 * The one way to the `hits` collection: ingestion writes through it, sessionization stamps visits,
 * the rollup job claims batches, retention and erasure delete, and the stats module runs its
 * analytical pipelines through `aggregate`.
 */
@Injectable()
export class HitsRepository {
  constructor(@InjectModel(Hit.name) private readonly hits: Model<Hit>) {}

  /**
   * One unordered insert for a whole group commit (see insertUnordered); each hit awaits the
   * rollups and is stored without its null fields (storedHit). Results are by position in `documents`.
   */
  insertMany(documents: NewHit[]): Promise<InsertOutcome> {
    const stored = documents.map((document) => {
      const hit = storedHit(document);
      hit.rollupPending = true;
      return hit;
    });
    return insertUnordered(this.hits.collection, stored);
  }

  /**
   * Claims for rollup batch `batch` at most `limit` hits awaiting the rollups and received at or
   * before `until`; returns how many it claimed.
   */
  async claimForRollup(batch: number, until: Date, limit: number): Promise<number> {
    const ids = await this.hits.collection
      .find({ rollupPending: true, receivedAt: { $lte: until } }, { projection: { _id: 1 } })
      .limit(limit)
      .map((hit) => hit._id)
      .toArray();
    if (ids.length === 0) return 0;
    await this.hits.collection.updateMany(
      { _id: { $in: ids }, rollupPending: true },
      { $set: { rollupPending: batch } },
    );
    return ids.length;
  }

  /** The hits claimed by rollup batch `batch`, the fields the rollups read projected. */
  findRollupBatch(batch: number, fields: readonly string[]): Promise<Array<Record<string, unknown>>> {
    const projection: Record<string, 1> = { _id: 1, siteId: 1, ts: 1, visitorKey: 1, name: 1, userKey: 1 };
    for (const field of fields) projection[field] = 1;
    return this.hits.collection.find({ rollupPending: batch }, { projection, batchSize: SLICE }).toArray();
  }

  /** The hits of rollup batch `batch` are counted: they await nothing more. */
  async releaseRollupBatch(batch: number): Promise<void> {
    await this.hits.collection.updateMany({ rollupPending: batch }, { $unset: { rollupPending: 1 } });
  }

  /** Every hit of the site awaits the rollups again (its rows are rebuilt from scratch). */
  async markSiteForRollup(siteId: Types.ObjectId): Promise<void> {
    await this.hits.collection.updateMany({ siteId }, { $set: { rollupPending: true } });
  }

  /** The hits of these visitors of one site with `from ≤ ts ≤ to`, in time order (one query for a sessionizer batch). */
  findVisitorsHits(
    siteId: Types.ObjectId,
    visitorKeys: string[],
    from: Date,
    to: Date,
  ): Promise<Array<SessionHit & { visitorKey: string }>> {
    return this.hits.collection
      .find<SessionHit & { visitorKey: string }>(
        { siteId, visitorKey: { $in: visitorKeys }, ts: { $gte: from, $lte: to } },
        { projection: SESSION_FIELDS, batchSize: WHOLE_ANSWER },
      )
      .sort({ ts: 1, _id: 1 })
      .toArray();
  }

  /** Stamps visit ids: one `updateMany` per visit, all in one round trip. */
  async assignVisits(assignments: Array<{ visitId: string; hitIds: Types.ObjectId[] }>): Promise<void> {
    const operations: AnyBulkWriteOperation[] = assignments
      .filter((assignment) => assignment.hitIds.length > 0)
      .map(({ visitId, hitIds }) => ({
        updateMany: { filter: { _id: { $in: hitIds } }, update: { $set: { visitId } } },
      }));
    await bulkWriteInSlices(this.hits.collection, operations);
  }

  /**
   * Fills in the network domain of hits the rollups have not taken yet (`rollupPending: true`).
   * One that lands after a rollup batch claimed the hit is dropped: the rows already count it as
   * "Unknown", and the raw hit must say the same. A lookup takes at most a second unless its queue
   * is long, and the rollups take a hit 30 s after it is received (ROLLUP_SETTLE_MS).
   */
  async setNetworkDomain(hitIds: Types.ObjectId[], networkDomain: string): Promise<void> {
    await this.hits.collection.updateMany({ _id: { $in: hitIds }, rollupPending: true }, { $set: { networkDomain } });
  }

  /** A site's hits with `from ≤ ts < to` in time order, as a cursor so an export holds one batch at a time. */
  streamSiteHits(siteId: Types.ObjectId, from: Date, to: Date): AsyncIterable<NewHit> {
    return this.hits.collection.find<NewHit>({ siteId, ts: { $gte: from, $lt: to } }).sort({ ts: 1, _id: 1 });
  }

  /** Every site with stored hits, so retention can purge site by site on the `{ siteId, ts }` index. */
  findSiteIdsWithHits(): Promise<Types.ObjectId[]> {
    return this.hits.collection.distinct('siteId') as Promise<Types.ObjectId[]>;
  }

  /** Deletes a site's hits with `ts < before` (purge and retention); returns how many went. */
  async deleteSiteHitsBefore(siteId: Types.ObjectId, before: Date): Promise<number> {
    return (await this.hits.collection.deleteMany({ siteId, ts: { $lt: before } })).deletedCount;
  }

  /** The visitor keys an identified user's hits are stored under (erasure). */
  findUserVisitorKeys(siteId: Types.ObjectId, userKey: string): Promise<string[]> {
    return this.hits.collection.distinct('visitorKey', { siteId, userKey }) as Promise<string[]>;
  }

  /** Deletes an identified user's hits: those carrying the userKey and any under their visitor keys. */
  async deleteUserHits(siteId: Types.ObjectId, userKey: string, visitorKeys: string[]): Promise<number> {
    const filter = { siteId, $or: [{ userKey }, { visitorKey: { $in: visitorKeys } }] };
    return (await this.hits.collection.deleteMany(filter)).deletedCount;
  }

  /**
   * Runs an analytical pipeline over the hits and returns its rows (the stats module's raw-hit
   * reads; its pipelines may `$lookup` visits and `$merge` into the stats module's own rollups).
   * Disk use is allowed so a large `$group` spills rather than fails on a real server.
   */
  aggregate<T extends object>(pipeline: PipelineStage[]): Promise<T[]> {
    return this.hits.collection.aggregate<T & Document>(pipeline as Document[], { allowDiskUse: true }).toArray();
  }

  /** When the site's earliest hit happened, if it has any (served by the `{ siteId, ts }` index). */
  async findFirstHitTime(siteId: Types.ObjectId): Promise<Date | undefined> {
    const [first] = await this.hits.collection
      .find({ siteId }, { projection: { _id: 0, ts: 1 } })
      .sort({ ts: 1 })
      .limit(1)
      .toArray();
    return first?.ts instanceof Date ? first.ts : undefined;
  }
}
