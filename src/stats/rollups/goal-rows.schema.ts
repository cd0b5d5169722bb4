import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * Conversions kept by the rollup job (GoalConversionsBuilder; docs/goals.md). Three collections
 * of their own, so that the other derived rows can change shape without touching them.
 */

/**
 * One per site, goal, classification, visitor and local day on which that visitor converted:
 * the membership a new conversion day is looked up in (the visitor's other days for the goal).
 * `_id` a digest of the key; `firstBatch` the batch that created it (0 for a backfill), so a
 * replayed batch finds the days it added.
 */
@Schema({ collection: 'stats_goal_members', versionKey: false })
export class GoalMemberRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  goalId: string;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  visitorKey: string;

  @Prop({ required: true })
  day: string;

  @Prop({ required: true })
  firstBatch: number;
}

export const GoalMemberRowSchema = SchemaFactory.createForClass(GoalMemberRow);
// Serves: a visitor's conversion days for a goal (the batch deltas), and the raw tail's "already
// converted in the range" check.
GoalMemberRowSchema.index({ siteId: 1, goalId: 1, classification: 1, visitorKey: 1, day: 1 });
// Serves: the visitors converting on a range of days (who `has_done` a goal).
GoalMemberRowSchema.index({ siteId: 1, goalId: 1, classification: 1, day: 1 });

/**
 * One per site, goal, classification and local day with conversions: the converting visitors
 * (`fresh`, `returning` by previous conversion day), converting hits and revenue per currency
 * (GoalCountEntry). `_id` a digest of the key; `lastBatch` the last batch added (exactly once).
 */
@Schema({ collection: 'stats_goal_counts', versionKey: false })
export class GoalCountRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  goalId: string;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  day: string;

  @Prop({ required: true })
  fresh: number;

  @Prop({ type: [Object], required: true })
  returning: Array<{ p: string; n: number }>;

  @Prop({ required: true })
  events: number;

  @Prop({ type: [Object], required: true })
  revenue: Array<{ currency: string; sum: number; count: number }>;

  @Prop({ required: true })
  lastBatch: number;
}

export const GoalCountRowSchema = SchemaFactory.createForClass(GoalCountRow);
// Serves: a goal query's settled days (one site, goals, classification, a range of days).
GoalCountRowSchema.index({ siteId: 1, goalId: 1, classification: 1, day: 1 });

/**
 * One per site, goal, classification, dimension (GOAL_VALUE_DIMENSIONS), value, visitor and local
 * day on which that visitor converted with a hit of that value (`value` null when the hit has
 * none): the goal members split by a hit-level dimension, so that "converters of the goal by
 * country" over any range is counted as the goal's converters are. `firstBatch` as on the members.
 */
@Schema({ collection: 'stats_goal_value_members', versionKey: false })
export class GoalValueMemberRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  goalId: string;

  @Prop({ required: true })
  dimension: string;

  @Prop({ type: String, default: null })
  value: string | null;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  visitorKey: string;

  @Prop({ required: true })
  day: string;

  @Prop({ required: true })
  firstBatch: number;
}

export const GoalValueMemberRowSchema = SchemaFactory.createForClass(GoalValueMemberRow);
// Serves: a visitor's conversion days for a goal by one dimension, every value (the batch deltas,
// the raw tail's "already converted in the range" check), and dropping a goal's or site's rows.
GoalValueMemberRowSchema.index({ siteId: 1, goalId: 1, dimension: 1, classification: 1, visitorKey: 1, day: 1 });

/**
 * One per site, goal, classification, dimension, value and local day with conversions of that
 * value: the same entry as a goal count (`fresh`, `returning`, `events`, `revenue`), for the
 * converting hits of that value only. `lastBatch`: exactly once, as on the goal counts.
 */
@Schema({ collection: 'stats_goal_value_counts', versionKey: false })
export class GoalValueCountRow {
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  goalId: string;

  @Prop({ required: true })
  dimension: string;

  @Prop({ type: String, default: null })
  value: string | null;

  @Prop({ required: true })
  classification: string;

  @Prop({ required: true })
  day: string;

  @Prop({ required: true })
  fresh: number;

  @Prop({ type: [Object], required: true })
  returning: Array<{ p: string; n: number }>;

  @Prop({ required: true })
  events: number;

  @Prop({ type: [Object], required: true })
  revenue: Array<{ currency: string; sum: number; count: number }>;

  @Prop({ required: true })
  lastBatch: number;
}

export const GoalValueCountRowSchema = SchemaFactory.createForClass(GoalValueCountRow);
// Serves: a breakdown's settled days (one site, goals, dimension, classification, a range of days).
GoalValueCountRowSchema.index({ siteId: 1, goalId: 1, dimension: 1, classification: 1, day: 1 });

/**
 * One per goal whose rows are complete: they were backfilled from the site's hits already rolled
 * up, in `timezone`, and every batch since added to them. A goal without this row (just created,
 * or its site being rebuilt) is read from raw hits.
 */
@Schema({ collection: 'stats_goal_states', versionKey: false })
export class GoalRowsState {
  /** The goal's id. */
  @Prop({ type: String })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  timezone: string;

  /**
   * The dimensions its value rows were built for (GOAL_VALUE_DIMENSIONS then): a state without
   * them, or with others, is backfilled again (rows kept before the value rows existed).
   */
  @Prop({ type: [String] })
  dimensions?: string[];
}

export type GoalRowsStateDocument = HydratedDocument<GoalRowsState>;
export const GoalRowsStateSchema = SchemaFactory.createForClass(GoalRowsState);
GoalRowsStateSchema.index({ siteId: 1 });
