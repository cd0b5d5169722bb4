import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * A visitor whose hits changed since their visits were last computed: the work list of the
 * sessionizer, shared by every app instance through MongoDB. Ingest marks it with atomic
 * `$min`/`$max`/`$inc`; a sessionizer claims it with a lease, recomputes the visits around
 * [from, to], and deletes it only if `rev` did not move meanwhile.
 */
@Schema({ collection: 'visitor_dirty', versionKey: false })
export class VisitorDirty {
  /** `<siteId>:<visitorKey>` — one work item per visitor, so marks merge instead of piling up. */
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ required: true })
  visitorKey: string;

  /** Earliest and latest timestamp of the hits that marked it. */
  @Prop({ required: true })
  from: Date;

  @Prop({ required: true })
  to: Date;

  /** Bumped by every mark; a sessionizer that saw an older rev must run again. */
  @Prop({ required: true })
  rev: number;

  /**
   * The highest rev whose hits have their visits computed, kept when a mark arrived during the
   * work: `flush()` waits for the marks that existed when it was called, not for later ones.
   */
  @Prop({ default: 0 })
  processedRev: number;

  /** Lease of the sessionizer working on it; null when free. An expired lease can be taken over. */
  @Prop({ type: Date, default: null })
  claimedUntil: Date | null;

  @Prop({ type: String, default: null })
  claimToken: string | null;
}

export type VisitorDirtyDocument = HydratedDocument<VisitorDirty>;
export const VisitorDirtySchema = SchemaFactory.createForClass(VisitorDirty);

// Serves: the background sessionizer claiming the next free (or expired) work item of any site.
VisitorDirtySchema.index({ claimedUntil: 1 });
// Serves: flush(siteId) taking the snapshot of a site's pending work items.
VisitorDirtySchema.index({ siteId: 1 });
