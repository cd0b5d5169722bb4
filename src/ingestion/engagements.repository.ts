import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Document } from 'mongodb';
import type { Model, Types } from 'mongoose';
import { insertUnordered, type InsertOutcome } from '../database/bulk-write-errors.js';
import { Engagement } from './schemas/engagement.schema.js';
import { storedEngagement } from './stored-engagement.js';

export type NewEngagement = Engagement & { _id: Types.ObjectId };

/**
 * The `engagements` collection, owned by ingestion: written by the hit writer, read by the stats
 * module (engagement time and scroll depth per page) through `aggregateSiteRange`, deleted by
 * purge, retention and erasure.
 */
@Injectable()
export class EngagementsRepository {
  constructor(@InjectModel(Engagement.name) private readonly engagements: Model<Engagement>) {}

  /**
   * One unordered insert for a group commit (see HitsRepository.insertMany), each record without
   * its null fields (storedEngagement). Results are by position in `documents`.
   */
  insertMany(documents: NewEngagement[]): Promise<InsertOutcome> {
    return insertUnordered(
      this.engagements.collection,
      documents.map((document) => storedEngagement(document)),
    );
  }

  /**
   * The stats read: `stages` run over one site's engagements with `from ≤ ts < to` (the first
   * stage is that `$match`, on the `{ siteId, ts }` index). Documents carry the Engagement fields.
   */
  aggregateSiteRange<T extends Document>(
    siteId: Types.ObjectId,
    from: Date,
    to: Date,
    stages: Document[],
  ): Promise<T[]> {
    return this.engagements.collection
      .aggregate<T>([{ $match: { siteId, ts: { $gte: from, $lt: to } } }, ...stages], { allowDiskUse: true })
      .toArray();
  }

  /** Every site with stored engagements, so retention also reaches sites that have no hits left. */
  findSiteIds(): Promise<Types.ObjectId[]> {
    return this.engagements.collection.distinct('siteId') as Promise<Types.ObjectId[]>;
  }

  /** Deletes a site's engagements with `ts < before` (purge and retention); returns how many went. */
  async deleteSiteBefore(siteId: Types.ObjectId, before: Date): Promise<number> {
    return (await this.engagements.collection.deleteMany({ siteId, ts: { $lt: before } })).deletedCount;
  }

  /** Deletes an identified user's engagements: those carrying the userKey and any under their visitor keys. */
  async deleteUser(siteId: Types.ObjectId, userKey: string, visitorKeys: string[]): Promise<number> {
    const filter = { siteId, $or: [{ userKey }, { visitorKey: { $in: visitorKeys } }] };
    return (await this.engagements.collection.deleteMany(filter)).deletedCount;
  }
}
