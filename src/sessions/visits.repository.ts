import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { Model, Types } from 'mongoose';
import { Visit } from './schemas/visit.schema.js';

/** The visits one visitor's window must hold after sessionizing. */
export interface VisitReplacement {
  siteId: Types.ObjectId;
  visitorKey: string;
  from: Date;
  to: Date;
  visits: Visit[];
}

@Injectable()
export class VisitsRepository {
  constructor(@InjectModel(Visit.name) private readonly model: Model<Visit>) {}

  /** The driver collection, typed with this schema's string `_id`. */
  private get collection(): Collection<Visit> {
    return this.model.collection as unknown as Collection<Visit>;
  }

  /** The visits of these visitors of one site that overlap [from, to] (one query for a sessionizer batch). */
  findVisitorsVisitsOverlapping(
    siteId: Types.ObjectId,
    visitorKeys: string[],
    from: Date,
    to: Date,
  ): Promise<Array<Pick<Visit, 'visitorKey' | 'start' | 'end'>>> {
    return this.collection
      .find<Pick<Visit, 'visitorKey' | 'start' | 'end'>>(
        { siteId, visitorKey: { $in: visitorKeys }, start: { $lte: to }, end: { $gte: from } },
        { projection: { visitorKey: 1, start: 1, end: 1 } },
      )
      .toArray();
  }

  /**
   * Makes each visitor's window hold exactly its `visits`: upserts them by their deterministic
   * `_id` and deletes the visitor's other visits starting in the window (split or merged ones),
   * for a whole sessionizer batch in one bulk write.
   */
  async replaceVisitorsVisits(replacements: VisitReplacement[]): Promise<void> {
    const operations: AnyBulkWriteOperation<Visit>[] = replacements.flatMap(
      ({ siteId, visitorKey, from, to, visits }) => [
        ...visits.map((visit) => ({ replaceOne: { filter: { _id: visit._id }, replacement: visit, upsert: true } })),
        {
          deleteMany: {
            filter: {
              siteId,
              visitorKey,
              start: { $gte: from, $lte: to },
              _id: { $nin: visits.map((visit) => visit._id) },
            },
          },
        },
      ],
    );
    if (operations.length > 0) await this.collection.bulkWrite(operations, { ordered: false });
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
