import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { HydratedDocument } from 'mongoose';

/**
 * Bookkeeping of the rollup job, one small document per key:
 * - `watermark`: every hit with `receivedAt <= at` has been rolled up,
 * - `batch`: the number of the last rollup batch claimed (see RollupJob),
 * - `lease`: who runs the job right now and until when (an expired lease may be taken over),
 * - `site:<id>`: the time zone and row shape (`version`) the site's rows were computed in; absent
 *   or different from the site's current zone or ROLLUP_VERSION (or `rebuild` set) means the
 *   site's rows must not be used; `rebuildRequests` counts the flaggings (see
 *   RollupRepository.markSiteBuilt); `prepared` says a rebuild's first step (rows deleted, every
 *   hit and visit of the site awaiting the rollups) is done, for which zone, version and request
 *   count, so a run that fails later resumes the rebuild instead of starting it over;
 *   `weeksThrough` is the Sunday through which its weekly visitor counts are complete (reads use
 *   week rows only up to it).
 */
export interface RebuildPrepared {
  timezone: string;
  version: number;
  requests: number;
}

@Schema({ collection: 'stats_rollup_state', versionKey: false })
export class RollupState {
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: Date })
  at?: Date;

  @Prop({ type: Number })
  batch?: number;

  @Prop({ type: String })
  holder?: string;

  @Prop({ type: Date })
  expiresAt?: Date;

  @Prop({ type: String })
  timezone?: string;

  @Prop({ type: Boolean })
  rebuild?: boolean;

  @Prop({ type: Number })
  version?: number;

  /** Counts `rebuild` flaggings, so a rebuild clears only the ones made before it started. */
  @Prop({ type: Number })
  rebuildRequests?: number;

  /** A rebuild whose rows were reset for this zone, row version and `rebuildRequests` (see RollupJob). */
  @Prop({ type: Object })
  prepared?: RebuildPrepared;

  /** `YYYY-MM-DD`: the Sunday through which the site's weekly visitor counts are complete. */
  @Prop({ type: String })
  weeksThrough?: string;
}

export type RollupStateDocument = HydratedDocument<RollupState>;
// No secondary index: documents are read by `_id`, and `site:*` with a `rebuild` flag are few.
export const RollupStateSchema = SchemaFactory.createForClass(RollupState);
