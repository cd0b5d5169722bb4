import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types } from 'mongoose';

/**
 * Saved funnels kept by the rollup job (FunnelRowsBuilder; docs/funnels.md, "Performance"). Four
 * collections of their own, as the goal rows: visits, visitors, counts, and which funnels are ready.
 */

/**
 * One per funnel, visit and classification whose hits of that classification reach step 1 or
 * more: the deepest step, the local day the visit starts (`day`) and ends (`lastDay`), and the
 * midnights it crosses (each day after `day` through `lastDay`), so a read finds the visits a
 * range boundary cuts. `_id` a digest of the key.
 */
@Schema({ collection: 'stats_funnel_visits', versionKey: false })
export class FunnelVisitRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  funnelId: string;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  visitId: string;

  @Prop({ required: true })
  visitorKey: string;

  @Prop({ required: true })
  day: string;

  @Prop({ required: true })
  lastDay: string;

  @Prop({ type: [String], required: true })
  midnights: string[];

  @Prop({ required: true })
  start: Date;

  @Prop({ required: true })
  end: Date;

  @Prop({ required: true })
  level: number;
}

export const FunnelVisitRowSchema = SchemaFactory.createForClass(FunnelVisitRow);
// Serves: a visitor's funnel visits (the batch's new step days, a read's boundary visitors), and
// dropping a funnel's rows (`funnelId` alone, a prefix).
FunnelVisitRowSchema.index({ funnelId: 1, classification: 1, visitorKey: 1, day: 1 });
// Serves: the visits crossing a range's first or last midnight.
FunnelVisitRowSchema.index({ funnelId: 1, classification: 1, midnights: 1 });
// Serves: the rows of the visits a batch changed or deleted.
FunnelVisitRowSchema.index({ visitId: 1 });
// Serves: the site's rows dropped at once (a rebuild after a purge, an erasure or a zone change; a deleted site).
FunnelVisitRowSchema.index({ siteId: 1 });

/**
 * One per funnel, classification and visitor with funnel visits: their step days as the counts
 * hold them (`current`), and while a batch moves them, the step days it records (`next`, with
 * `nextBatch`) so that a replay applies the same change; `lastBatch` the last batch finished.
 */
@Schema({ collection: 'stats_funnel_visitors', versionKey: false })
export class FunnelVisitorRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  funnelId: string;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  visitorKey: string;

  @Prop({ type: [[String]], required: true })
  current: string[][];

  @Prop({ type: [[String]] })
  next?: string[][];

  @Prop()
  nextBatch?: number;

  @Prop({ required: true })
  lastBatch: number;
}

export const FunnelVisitorRowSchema = SchemaFactory.createForClass(FunnelVisitorRow);
// Serves: the step days a batch recorded (a replay), and dropping a funnel's rows.
FunnelVisitorRowSchema.index({ nextBatch: 1 }, { partialFilterExpression: { nextBatch: { $exists: true } } });
FunnelVisitorRowSchema.index({ funnelId: 1 });
// Serves: the site's rows dropped at once (a rebuild or a deleted site).
FunnelVisitorRowSchema.index({ siteId: 1 });

/**
 * One per funnel, classification, step and local day: the visitors at the step that day, `fresh`
 * or `returning` by their previous day at it (as the goal counts). `lastBatch`: exactly once.
 */
@Schema({ collection: 'stats_funnel_counts', versionKey: false })
export class FunnelCountRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  funnelId: string;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  step: number;

  @Prop({ required: true })
  day: string;

  @Prop({ required: true })
  fresh: number;

  @Prop({ type: [Object], required: true })
  returning: Array<{ p: string; n: number }>;

  @Prop({ required: true })
  lastBatch: number;
}

export const FunnelCountRowSchema = SchemaFactory.createForClass(FunnelCountRow);
// Serves: a funnel read's days, and dropping a funnel's rows (`funnelId` alone, a prefix).
FunnelCountRowSchema.index({ funnelId: 1, classification: 1, day: 1 });
// Serves: the site's rows dropped at once (a rebuild or a deleted site).
FunnelCountRowSchema.index({ siteId: 1 });

/**
 * One per funnel whose rows are complete: backfilled in `timezone` for the steps `goalIds` and
 * kept by every batch since. A funnel without it, or whose steps changed since, reads raw.
 */
@Schema({ collection: 'stats_funnel_states', versionKey: false })
export class FunnelRowsState {
  /** The funnel's id. */
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  timezone: string;

  @Prop({ type: [String], required: true })
  goalIds: string[];
}

export const FunnelRowsStateSchema = SchemaFactory.createForClass(FunnelRowsState);
// Serves: the ready funnels of a read's or a batch's sites, and the site's states dropped at once.
FunnelRowsStateSchema.index({ siteId: 1 });
