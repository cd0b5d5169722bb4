import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/** One filter of a segment, stored the way the stats engine reads it (already validated). */
export class StoredSegmentFilter {
  operator!: string;
  dimension!: string;
  values!: string[];
}

/**
 * A saved segment: a named set of filters of one site (as in Plausible's and Umami's saved
 * segments), applied by id on every read endpoint and ANDed with the request's own filters.
 */
@Schema({ collection: 'segments', versionKey: false, timestamps: true })
export class Segment {
  @Prop({ type: Types.ObjectId, required: true })
  siteId!: Types.ObjectId;

  @Prop({ required: true, trim: true })
  name!: string;

  @Prop({ type: [{ _id: false, operator: String, dimension: String, values: [String] }], required: true })
  filters!: StoredSegmentFilter[];

  createdAt!: Date;
  updatedAt!: Date;
}

export type SegmentDocument = HydratedDocument<Segment>;
export const SegmentSchema = SchemaFactory.createForClass(Segment);

// Serves: listing a site's segments by name, and one name per site (409 on a second).
SegmentSchema.index({ siteId: 1, name: 1 }, { unique: true });
