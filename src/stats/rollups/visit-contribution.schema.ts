import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import type { StoredVisitContribution } from './batch-deltas.js';

/**
 * What each visit adds to stats_visit_hours, stats_visit_sources and the attribution counts right now (`current`), so that a changed visit's
 * old contribution can be taken out when its new one goes in. While a rollup batch takes in a
 * change, `next` (null: the visit is gone) and `nextBatch` hold what the batch applies: a batch
 * replayed after a crash applies the same change, whatever the visit became meanwhile.
 */
@Schema({ collection: 'stats_visit_contributions', versionKey: false })
export class VisitContributionRow {
  /** The visit's id. */
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  /** The visit's visitor: the attribution counts read a visitor's contributions as its history. */
  @Prop({ type: String })
  v?: string;

  /** In its stored form (StoredVisitContribution: hour, classification, page views, duration, attribution, hits per day). */
  @Prop({ type: Object })
  current?: StoredVisitContribution;

  @Prop({ type: Object })
  next?: StoredVisitContribution | null;

  @Prop({ type: Number })
  nextBatch?: number;
}

export type VisitContributionRowDocument = HydratedDocument<VisitContributionRow>;
export const VisitContributionRowSchema = SchemaFactory.createForClass(VisitContributionRow);

// Serves: the read of a batch's pending changes (few at a time).
VisitContributionRowSchema.index({ nextBatch: 1 }, { partialFilterExpression: { nextBatch: { $exists: true } } });
// Serves: deleting a site's contributions when its rows are rebuilt, and the attribution counts'
// histories: the contributions of a batch's visitors, or of a whole site, by visitor.
VisitContributionRowSchema.index({ siteId: 1, v: 1 });
