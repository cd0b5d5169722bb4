import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { Types, type Model } from 'mongoose';
import { bulkWriteErrors } from '../ingestion/bulk-write-errors.js';
import { VisitorDirty } from './schemas/visitor-dirty.schema.js';

export interface DirtyMark {
  siteId: Types.ObjectId;
  visitorKey: string;
  from: Date;
  to: Date;
}

export interface ClaimedVisitor {
  _id: string;
  siteId: Types.ObjectId;
  visitorKey: string;
  from: Date;
  to: Date;
  rev: number;
  claimToken: string;
}

const DUPLICATE_KEY = 11000;
const MARK_ATTEMPTS = 3;

/** The sessionizer's shared work list (see VisitorDirty). */
@Injectable()
export class VisitorDirtyRepository {
  constructor(@InjectModel(VisitorDirty.name) private readonly model: Model<VisitorDirty>) {}

  /** The driver collection, typed with this schema's string `_id`. */
  private get collection(): Collection<VisitorDirty> {
    return this.model.collection as unknown as Collection<VisitorDirty>;
  }

  /**
   * Widens (or creates) each visitor's work item and bumps its rev, atomically per visitor. Two
   * instances upserting the same new item can collide on `_id`; the loser retries and then
   * finds the item to update.
   */
  async mark(marks: DirtyMark[]): Promise<void> {
    let remaining = marks;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      const operations: AnyBulkWriteOperation<VisitorDirty>[] = remaining.map((mark) => ({
        updateOne: {
          filter: { _id: `${mark.siteId.toHexString()}:${mark.visitorKey}` },
          update: {
            $min: { from: mark.from },
            $max: { to: mark.to },
            $inc: { rev: 1 },
            $setOnInsert: {
              siteId: mark.siteId,
              visitorKey: mark.visitorKey,
              processedRev: 0,
              claimedUntil: null,
              claimToken: null,
            },
          },
          upsert: true,
        },
      }));
      try {
        await this.collection.bulkWrite(operations, { ordered: false });
        return;
      } catch (error) {
        const writeErrors = bulkWriteErrors(error);
        if (
          !writeErrors ||
          attempt >= MARK_ATTEMPTS ||
          writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY)
        ) {
          throw error;
        }
        remaining = writeErrors.map((writeError) => remaining[writeError.index]);
      }
    }
  }

  /** Takes a lease on one free (or expired) work item of any site. */
  async claimNext(now: Date, leaseMs: number): Promise<ClaimedVisitor | null> {
    const claimToken = new Types.ObjectId().toHexString();
    const claimed = await this.collection.findOneAndUpdate(
      { $or: [{ claimedUntil: null }, { claimedUntil: { $lt: now } }] },
      { $set: { claimedUntil: new Date(now.getTime() + leaseMs), claimToken } },
      { returnDocument: 'after' },
    );
    return claimed ? { ...claimed, claimToken } : null;
  }

  /** The work items pending now (of one site, or all), with the rev each has reached. */
  async snapshot(siteId?: Types.ObjectId): Promise<Map<string, number>> {
    const items = await this.collection.find(siteId ? { siteId } : {}, { projection: { _id: 1, rev: 1 } }).toArray();
    return new Map(items.map((item) => [item._id, item.rev]));
  }

  /**
   * Takes a lease on one given work item if it is free and its hits up to `rev` are not yet
   * processed; null when it is done, gone, or held by someone else.
   */
  async claimIfBehind(id: string, rev: number, now: Date, leaseMs: number): Promise<ClaimedVisitor | null> {
    const claimToken = new Types.ObjectId().toHexString();
    const claimed = await this.collection.findOneAndUpdate(
      {
        _id: id,
        processedRev: { $lt: rev },
        $or: [{ claimedUntil: null }, { claimedUntil: { $lt: now } }],
      },
      { $set: { claimedUntil: new Date(now.getTime() + leaseMs), claimToken } },
      { returnDocument: 'after' },
    );
    return claimed ? { ...claimed, claimToken } : null;
  }

  /** Of the snapshot's items, those still waiting for the rev they had then to be processed. */
  async stillBehind(snapshot: Map<string, number>): Promise<string[]> {
    const items = await this.collection
      .find({ _id: { $in: [...snapshot.keys()] } }, { projection: { _id: 1, processedRev: 1 } })
      .toArray();
    return items.filter((item) => (item.processedRev ?? 0) < (snapshot.get(item._id) ?? 0)).map((item) => item._id);
  }

  /** Removes the item if nobody marked it since the claim; false means "run it again". */
  async completeIfUnchanged(item: ClaimedVisitor): Promise<boolean> {
    const result = await this.collection.deleteOne({ _id: item._id, rev: item.rev, claimToken: item.claimToken });
    return result.deletedCount === 1;
  }

  /**
   * Gives the lease back so this or another instance picks the item up again; `processed` records
   * that the hits up to the claimed rev have their visits (a later mark still needs a run).
   */
  async release(item: ClaimedVisitor, processed = false): Promise<void> {
    await this.collection.updateOne(
      { _id: item._id, claimToken: item.claimToken },
      { $set: { claimedUntil: null, claimToken: null }, ...(processed ? { $max: { processedRev: item.rev } } : {}) },
    );
  }
}
