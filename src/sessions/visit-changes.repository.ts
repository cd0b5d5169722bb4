import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
import type { Model, Types } from 'mongoose';
import { bulkWriteInSlices, SLICE } from '../database/slices.js';
import { VisitChange } from './schemas/visit-change.schema.js';
import { Visit } from './schemas/visit.schema.js';

/** Visits marked per bulk write when a whole site is. */
export const MARK_CHUNK = 10_000;

/** The visit-change outbox (see VisitChange). */
@Injectable()
export class VisitChangesRepository {
  constructor(
    @InjectModel(VisitChange.name) private readonly model: Model<VisitChange>,
    @InjectModel(Visit.name) private readonly visits: Model<Visit>,
  ) {}

  private get collection(): Collection<VisitChange> {
    return this.model.collection as unknown as Collection<VisitChange>;
  }

  async mark(siteId: Types.ObjectId, visitIds: string[]): Promise<void> {
    await bulkWriteInSlices(
      this.collection,
      visitIds.map((_id) => ({
        updateOne: { filter: { _id }, update: { $set: { siteId, pending: true } }, upsert: true },
      })),
    );
  }

  /**
   * Marks every visit of the site (its visit rollups are rebuilt from scratch), reading the ids
   * through a cursor: `distinct` answers one document, capped at 16 MB, which a site's visit ids
   * outgrow at about 400,000 visits — the rebuild then failed on every run and never finished.
   */
  async markSite(siteId: Types.ObjectId): Promise<void> {
    const cursor = (this.visits.collection as unknown as Collection<Visit>)
      .find({ siteId }, { projection: { _id: 1 } })
      .batchSize(MARK_CHUNK);
    let chunk: string[] = [];
    for await (const { _id } of cursor) {
      chunk.push(_id);
      if (chunk.length === MARK_CHUNK) {
        await this.mark(siteId, chunk);
        chunk = [];
      }
    }
    await this.mark(siteId, chunk);
  }

  async claim(batch: number, limit: number): Promise<number> {
    const ids = await this.collection
      .find({ pending: true }, { projection: { _id: 1 } })
      .limit(limit)
      .map((change) => change._id)
      .toArray();
    if (ids.length === 0) return 0;
    await this.collection.updateMany({ _id: { $in: ids }, pending: true }, { $set: { pending: batch } });
    return ids.length;
  }

  /** The visits claimed by `batch`: each id with the visit as stored now, or null when it no longer exists. */
  async findClaimed(batch: number): Promise<Array<{ visitId: string; visit: Visit | null }>> {
    const ids = (await this.collection.find({ pending: batch }, { projection: { _id: 1 } }).toArray()).map(
      (change) => change._id,
    );
    if (ids.length === 0) return [];
    const visits = await (this.visits.collection as unknown as Collection<Visit>)
      .find({ _id: { $in: ids } }, { batchSize: SLICE })
      .toArray();
    const byId = new Map(visits.map((visit) => [visit._id, visit]));
    return ids.map((visitId) => ({ visitId, visit: byId.get(visitId) ?? null }));
  }

  /** The rollups took in the changes of `batch` (a change marked again since stays). */
  async complete(batch: number): Promise<void> {
    await this.collection.deleteMany({ pending: batch });
  }
}
