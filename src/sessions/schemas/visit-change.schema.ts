import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * The outbox of visit changes for the stats rollups: one document per visit the sessionizer
 * created, changed or deleted since the rollups last took it in. `pending` is `true` when marked
 * and the number of the rollup batch that claimed it afterwards; the sessionizer marks a visit
 * before it writes it and again after, so a change written while a batch holds the mark is
 * marked anew and taken in by the next batch.
 */
@Schema({ collection: 'visit_changes', versionKey: false })
export class VisitChange {
  /** The visit's id. */
  @Prop({ type: String, required: true })
  _id: string;

  @Prop({ type: Types.ObjectId, required: true })
  siteId: Types.ObjectId;

  @Prop({ type: Object, required: true })
  pending: true | number;
}

export type VisitChangeDocument = HydratedDocument<VisitChange>;
export const VisitChangeSchema = SchemaFactory.createForClass(VisitChange);

// Serves: the rollup job's claim of marked visits and its read of a claimed batch.
VisitChangeSchema.index({ pending: 1 });
