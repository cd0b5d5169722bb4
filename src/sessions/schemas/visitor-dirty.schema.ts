import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * A visitor whose hits changed since their visits were last computed: the work list of the
 * sessionizer, shared by every app instance through MongoDB. Ingest marks it with atomic
 * `$min`/`$max`/`$inc`; a sessionizer claims a batch of them with a lease (moving each window to
 * `claimedFrom`/`claimedTo`), recomputes the visits around the claimed windows, and deletes an
 * item only if `rev` did not move meanwhile.
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

  /** Earliest and latest timestamp of the hits that marked it since it was last claimed. */
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

  /**
   * Lease of the sessionizer working on it; the epoch (`UNCLAIMED`) when free, so free and
   * expired items are one index range. An expired lease can be taken over.
   */
  @Prop({ type: Date, required: true })
  claimedUntil: Date;

  @Prop({ type: String, default: null })
  claimToken: string | null;

  /** While claimed: the rev and window being worked on (`from`/`to` collect newer marks meanwhile). */
  @Prop({ type: Number })
  claimedRev?: number;

  @Prop({ type: Date })
  claimedFrom?: Date;

  @Prop({ type: Date })
  claimedTo?: Date;
}

export type VisitorDirtyDocument = HydratedDocument<VisitorDirty>;
export const VisitorDirtySchema = SchemaFactory.createForClass(VisitorDirty);

// Serves: the sessionizer claiming a batch of free (or expired) work items: `claimedUntil < now`.
VisitorDirtySchema.index({ claimedUntil: 1 });
// Serves: completing or releasing a claimed batch (`claimToken`), and reading it back after the claim.
VisitorDirtySchema.index({ claimToken: 1 });
// Serves: flush(siteId) taking the snapshot of a site's pending work items.
VisitorDirtySchema.index({ siteId: 1 });
