import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { Model, Types } from 'mongoose';
import { Visit } from './schemas/visit.schema.js';

@Injectable()
export class VisitsRepository {
  constructor(@InjectModel(Visit.name) private readonly model: Model<Visit>) {}

  /** The driver collection, typed with this schema's string `_id`. */
  private get collection(): Collection<Visit> {
    return this.model.collection as unknown as Collection<Visit>;
  }

  /** A visitor's visits that overlap [from, to]. */
  findVisitorVisitsOverlapping(siteId: Types.ObjectId, visitorKey: string, from: Date, to: Date): Promise<Visit[]> {
    return this.collection
      .find<Visit>(
        { siteId, visitorKey, start: { $lte: to }, end: { $gte: from } },
        { projection: { start: 1, end: 1 } },
      )
      .toArray();
  }

  /**
   * Makes [from, to] hold exactly `visits` for this visitor: upserts them by their deterministic
   * `_id`, then deletes the visitor's other visits starting in the window (split or merged ones).
   */
  async replaceVisitorVisits(
    siteId: Types.ObjectId,
    visitorKey: string,
    from: Date,
    to: Date,
    visits: Visit[],
  ): Promise<void> {
    const operations: AnyBulkWriteOperation<Visit>[] = visits.map((visit) => ({
      replaceOne: { filter: { _id: visit._id }, replacement: visit, upsert: true },
    }));
    if (operations.length > 0) await this.collection.bulkWrite(operations, { ordered: false });
    await this.collection.deleteMany({
      siteId,
      visitorKey,
      start: { $gte: from, $lte: to },
      _id: { $nin: visits.map((visit) => visit._id) },
    });
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
}
