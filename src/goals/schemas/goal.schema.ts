import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

export const GOAL_KINDS = ['page', 'event'] as const;
export type GoalKind = (typeof GOAL_KINDS)[number];

/**
 * A site's goal: a page goal (`pagePath`, `*` wildcards) or an event goal (`eventName`, optionally
 * one property `propertyKey` = `propertyValue`). Goals hold no counts: conversions are evaluated
 * from the raw hits when read, so a new goal counts the site's past data too.
 */
@Schema({ collection: 'goals', versionKey: false, timestamps: { createdAt: true, updatedAt: false } })
export class Goal {
  @Prop({ type: Types.ObjectId, required: true })
  siteId!: Types.ObjectId;

  @Prop({ type: String, enum: GOAL_KINDS, required: true })
  kind!: GoalKind;

  @Prop({ type: String, default: null })
  pagePath!: string | null;

  @Prop({ type: String, default: null })
  eventName!: string | null;

  @Prop({ type: String, default: null })
  propertyKey!: string | null;

  @Prop({ type: String, default: null })
  propertyValue!: string | null;

  /** How the goal is named in results and filters (`event:goal` values); unique per site. */
  @Prop({ type: String, required: true })
  displayName!: string;

  /** ISO 4217 code of the revenue this event goal reports; null for goals without revenue. */
  @Prop({ type: String, default: null })
  revenueCurrency!: string | null;

  createdAt!: Date;
}

export type GoalDocument = HydratedDocument<Goal>;
export const GoalSchema = SchemaFactory.createForClass(Goal);

// Serves: listing a site's goals in creation order and resolving goal names in every goal query;
// unique so that a goal name in a filter or result names one goal.
GoalSchema.index({ siteId: 1, displayName: 1 }, { unique: true });
// Serves: `listForSite` (creation order).
GoalSchema.index({ siteId: 1, createdAt: 1 });
