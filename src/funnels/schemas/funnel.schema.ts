import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * A funnel: 2 to 8 of a site's goals in order (Plausible's funnels). Its figures are not stored
 * here: the stats module's rollup job keeps funnel rows per saved funnel, and reads it cannot
 * answer from them evaluate the steps over the raw hits and visits (docs/funnels.md).
 */
@Schema({ collection: 'funnels', versionKey: false, timestamps: true })
export class Funnel {
  @Prop({ type: Types.ObjectId, required: true })
  siteId!: Types.ObjectId;

  @Prop({ required: true, trim: true })
  name!: string;

  /** The steps' goal ids, in funnel order. */
  @Prop({ type: [Types.ObjectId], required: true })
  goalIds!: Types.ObjectId[];

  createdAt!: Date;
  updatedAt!: Date;
}

export type FunnelDocument = HydratedDocument<Funnel>;
export const FunnelSchema = SchemaFactory.createForClass(Funnel);

// Serves: listing a site's funnels by name, and one name per site (409 on a second).
FunnelSchema.index({ siteId: 1, name: 1 }, { unique: true });
