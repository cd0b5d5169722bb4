import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import { HIT_COUNT_SETS, VISITOR_SETS } from '../pipelines/rollup.pipeline.js';
import { HitHour } from './hit-hour.schema.js';
import { RollupState } from './rollup-state.schema.js';
import { VisitHour } from './visit-hour.schema.js';
import { VisitorDay } from './visitor-day.schema.js';
import { VisitorSetRow } from './visitor-set.schema.js';

const WATERMARK_ID = 'watermark';
const siteStateId = (siteId: string) => `site:${siteId}`;

/**
 * The shape of the rollup rows. A site built with another version lacks rows a read would rely on
 * (2 added the visitor sets, hit hours and visit hours), so it is read raw until the job has rebuilt it.
 */
export const ROLLUP_VERSION = 2;

export interface SiteRollupState {
  timezone: string | null;
  rebuild: boolean;
  version: number;
}

/** The rollup collections (owned by stats): visitor rows, visit hours, the watermark, per-site state. */
@Injectable()
export class RollupRepository {
  constructor(
    @InjectModel(VisitorDay.name) private readonly rows: Model<VisitorDay>,
    @InjectModel(VisitorSetRow.name) private readonly setRows: Model<VisitorSetRow>,
    @InjectModel(VisitHour.name) private readonly visitHours: Model<VisitHour>,
    @InjectModel(HitHour.name) private readonly hitHours: Model<HitHour>,
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
    return { timezone: doc?.timezone ?? null, rebuild: doc?.rebuild ?? false, version: doc?.version ?? 1 };
  }

  /** Whether reads may use the site's rows when it is in `timezone`. */
  static isUsable(state: SiteRollupState, timezone: string): boolean {
    return !state.rebuild && state.timezone === timezone && state.version === ROLLUP_VERSION;
  }

  /** Records that the site's rows are complete in `timezone`, in this version's shape, and may be used. */
  async markSiteBuilt(siteId: string, timezone: string): Promise<void> {
    await this.state.updateOne(
      { _id: siteStateId(siteId) },
      { $set: { timezone, version: ROLLUP_VERSION }, $unset: { rebuild: 1 } },
      { upsert: true },
    );
  }

  /** Stops reads from using the site's rows until the job has rebuilt them (after a purge or erasure). */
  async markSiteForRebuild(siteId: string): Promise<void> {
    await this.state.updateOne({ _id: siteStateId(siteId) }, { $set: { rebuild: true } }, { upsert: true });
  }

  /** Sites flagged for a rebuild, or built in an older row shape. */
  async findSitesToRebuild(): Promise<string[]> {
    const docs = await this.state
      .find({ _id: { $regex: '^site:' }, $or: [{ rebuild: true }, { version: { $ne: ROLLUP_VERSION } }] }, { _id: 1 })
      .lean();
    return docs.map((doc) => doc._id.slice('site:'.length));
  }

  async deleteDay(siteId: string, day: string): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.rows.deleteMany({ siteId: site, day });
    const setsOf = (sets: typeof VISITOR_SETS) => ({ $in: sets.map((set) => set.name) });
    await this.setRows.deleteMany({ siteId: site, set: setsOf(VISITOR_SETS), day });
    await this.hitHours.deleteMany({ siteId: site, set: setsOf(HIT_COUNT_SETS), day });
    await this.visitHours.deleteMany({ siteId: site, day });
  }

  /** A deleted site: its rows and its state go, so no later run lists it for a rebuild again. */
  async forgetSite(siteId: string): Promise<void> {
    await this.deleteSiteRows(siteId);
    await this.state.deleteOne({ _id: siteStateId(siteId) });
  }

  async deleteSiteRows(siteId: string): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.rows.deleteMany({ siteId: site });
    await this.setRows.deleteMany({ siteId: site });
    await this.hitHours.deleteMany({ siteId: site });
    await this.visitHours.deleteMany({ siteId: site });
  }
}
