import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import { RollupState } from './rollup-state.schema.js';
import { VisitorDay } from './visitor-day.schema.js';

const WATERMARK_ID = 'watermark';
const siteStateId = (siteId: string) => `site:${siteId}`;

export interface SiteRollupState {
  timezone: string | null;
  rebuild: boolean;
}

/** The rollup collections (owned by stats): visitor-day rows, the watermark, per-site state. */
@Injectable()
export class RollupRepository {
  constructor(
    @InjectModel(VisitorDay.name) private readonly rows: Model<VisitorDay>,
    @InjectModel(RollupState.name) private readonly state: Model<RollupState>,
  ) {}

  /** Every hit received at or before this instant is in the rollup; the epoch before the first run. */
  async findWatermark(): Promise<Date> {
    const doc = await this.state.findById(WATERMARK_ID).lean();
    return doc?.at ?? new Date(0);
  }

  async saveWatermark(at: Date): Promise<void> {
    await this.state.updateOne({ _id: WATERMARK_ID }, { $set: { at } }, { upsert: true });
  }

  async findSiteState(siteId: string): Promise<SiteRollupState> {
    const doc = await this.state.findById(siteStateId(siteId)).lean();
    return { timezone: doc?.timezone ?? null, rebuild: doc?.rebuild ?? false };
  }

  /** Records that the site's rows are complete in `timezone` and may be used. */
  async markSiteBuilt(siteId: string, timezone: string): Promise<void> {
    await this.state.updateOne(
      { _id: siteStateId(siteId) },
      { $set: { timezone }, $unset: { rebuild: 1 } },
      { upsert: true },
    );
  }

  /** Stops reads from using the site's rows until the job has rebuilt them (after a purge or erasure). */
  async markSiteForRebuild(siteId: string): Promise<void> {
    await this.state.updateOne({ _id: siteStateId(siteId) }, { $set: { rebuild: true } }, { upsert: true });
  }

  async findSitesToRebuild(): Promise<string[]> {
    const docs = await this.state.find({ rebuild: true }, { _id: 1 }).lean();
    return docs.map((doc) => doc._id.slice('site:'.length));
  }

  async deleteDay(siteId: string, day: string): Promise<void> {
    await this.rows.deleteMany({ siteId: new Types.ObjectId(siteId), day });
  }

  async deleteSiteRows(siteId: string): Promise<void> {
    await this.rows.deleteMany({ siteId: new Types.ObjectId(siteId) });
  }
}
