import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { Types, type Model } from 'mongoose';
import { bulkWriteErrors } from '../database/bulk-write-errors.js';
import { SLICE } from '../database/slices.js';
import { VisitorDirty } from './schemas/visitor-dirty.schema.js';
import { DUPLICATE_KEY_CODE } from '../database/database-errors.js';

export interface DirtyMark {
  siteId: Types.ObjectId;
  visitorKey: string;
  from: Date;
  to: Date;
}

/** A visitor taken for sessionizing, with the window of hit times that changed. */
export interface ClaimedVisitor {
  siteId: Types.ObjectId;
  visitorKey: string;
  from: Date;
  to: Date;
}

/** Work items leased together under one token, completed or released together. */
export interface ClaimedBatch {
  claimToken: string;
  visitors: ClaimedVisitor[];
}

/** `claimedUntil` of an item nobody holds: in the past, so one index range finds free and expired items alike. */
export const UNCLAIMED = new Date(0);
/** A window no mark has widened yet: `$min`/`$max` of the first mark replace both ends. */
const EMPTY_WINDOW = { from: new Date(8.64e15), to: new Date(-8.64e15) };
const FREE = { claimedUntil: UNCLAIMED, claimToken: null };
const CLAIM_FIELDS = ['claimedRev', 'claimedFrom', 'claimedTo'];
/** Ids per `stillBehind` query: ~0.6 MB of `$in`, far below the 16 MB command limit. */
const STILL_BEHIND_CHUNK = 10_000;
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
              ...FREE,
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
          writeErrors.some((writeError) => writeError.code !== DUPLICATE_KEY_CODE)
        ) {
          throw error;
        }
        remaining = writeErrors.map((writeError) => remaining[writeError.index]);
      }
    }
  }

  /**
   * Takes a lease on up to `limit` free (or expired) work items: of any site, or only those
   * among `ids`. In the same atomic update each item's window moves to `claimedFrom`/`claimedTo`
   * and `from`/`to` are emptied, so marks arriving during the work collect a window of their own
   * and the next run recomputes only that, however long a visitor keeps sending hits. A window
   * left by a holder whose lease expired is merged into the new claim, never lost.
   */
  async claimBatch(now: Date, leaseMs: number, limit: number, ids?: string[]): Promise<ClaimedBatch | null> {
    const free = { claimedUntil: { $lt: now } };
    const candidates = await this.collection
      .find(ids ? { _id: { $in: ids }, ...free } : free, { projection: { _id: 1 }, batchSize: limit })
      .limit(limit)
      .toArray();
    if (candidates.length === 0) return null;
    const claimToken = new Types.ObjectId().toHexString();
    await this.collection.updateMany({ _id: { $in: candidates.map((item) => item._id) }, ...free }, [
      {
        $set: {
          claimedUntil: new Date(now.getTime() + leaseMs),
          claimToken,
          claimedRev: '$rev',
          claimedFrom: { $min: ['$from', { $ifNull: ['$claimedFrom', '$from'] }] },
          claimedTo: { $max: ['$to', { $ifNull: ['$claimedTo', '$to'] }] },
          from: EMPTY_WINDOW.from,
          to: EMPTY_WINDOW.to,
        },
      },
    ]);
    const claimed = await this.collection
      .find(
        { claimToken },
        { projection: { siteId: 1, visitorKey: 1, claimedFrom: 1, claimedTo: 1 }, batchSize: candidates.length },
      )
      .toArray();
    if (claimed.length === 0) return null;
    return {
      claimToken,
      visitors: claimed.map((item) => ({
        siteId: item.siteId,
        visitorKey: item.visitorKey,
        from: item.claimedFrom!,
        to: item.claimedTo!,
      })),
    };
  }

  /** The work items pending now (of one site, or all; at most `limit` of them, 0: all), with the rev each has reached. */
  async snapshot(siteId?: Types.ObjectId, limit = 0): Promise<Map<string, number>> {
    // Read in batches: after a bulk load this is hundreds of thousands of items, which in one
    // reply held the event loop for seconds while it was decoded.
    const items = this.collection
      .find(siteId ? { siteId } : {}, { projection: { _id: 1, rev: 1 }, batchSize: SLICE })
      .limit(limit);
    const snapshot = new Map<string, number>();
    for await (const item of items) snapshot.set(item._id, item.rev);
    return snapshot;
  }

  /**
   * Of the snapshot's items, those still waiting for the rev they had then to be processed. Asked
   * in chunks: after a bulk load the snapshot can hold hundreds of thousands of ids, and one
   * `$in` of them all would exceed MongoDB's 16 MB command size.
   */
  async stillBehind(snapshot: Map<string, number>): Promise<string[]> {
    const ids = [...snapshot.keys()];
    const behind: string[] = [];
    for (let start = 0; start < ids.length; start += STILL_BEHIND_CHUNK) {
      const items = await this.collection
        .find(
          { _id: { $in: ids.slice(start, start + STILL_BEHIND_CHUNK) } },
          { projection: { _id: 1, processedRev: 1 } },
        )
        .toArray();
      for (const item of items) if ((item.processedRev ?? 0) < (snapshot.get(item._id) ?? 0)) behind.push(item._id);
    }
    return behind;
  }

  /**
   * After the claimed windows' visits are written: removes the items nobody marked since the
   * claim, and frees the others with the claimed rev recorded as processed (their new marks
   * still need a run). Items whose lease was taken over are left to the new holder. When every
   * item of the batch went, none is left to free: one store round trip instead of two, which is
   * the rule while a backlog is worked off (its visitors get no hits meanwhile).
   */
  async complete({ claimToken, visitors }: ClaimedBatch): Promise<void> {
    const { deletedCount } = await this.collection.deleteMany({
      claimToken,
      $expr: { $eq: ['$rev', '$claimedRev'] },
    });
    if (deletedCount === visitors.length) return;
    await this.collection.updateMany({ claimToken }, [
      { $set: { processedRev: { $max: ['$processedRev', '$claimedRev'] }, ...FREE } },
      { $unset: CLAIM_FIELDS },
    ]);
  }

  /** Gives the claimed windows back untouched after a failed run, so this or another instance retries them. */
  async release(claimToken: string): Promise<void> {
    await this.collection.updateMany({ claimToken }, [
      { $set: { from: { $min: ['$from', '$claimedFrom'] }, to: { $max: ['$to', '$claimedTo'] }, ...FREE } },
      { $unset: CLAIM_FIELDS },
    ]);
  }
}
