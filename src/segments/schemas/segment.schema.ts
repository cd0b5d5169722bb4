import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * One filter of a segment, stored the way the stats engine reads it (already validated). A
 * filter naming goals exactly (`is`, `has_done`, `has_not_done` on `goal`) also keeps their ids,
 * position for position with `values`: reads name the goals by their current names, so a renamed
 * goal stays in its segments, and a deleted one is detected (docs/segments.md). `values` holds
 * the names as last saved.
 */
export class StoredSegmentFilter {
  operator!: string;
  dimension!: string;
  values!: string[];
  goalIds?: Types.ObjectId[];
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

  @Prop({
    type: [
      {
        _id: false,
        operator: String,
        dimension: String,
        values: [String],
        goalIds: { type: [Types.ObjectId], default: undefined },
      },
    ],
    required: true,
  })
  filters!: StoredSegmentFilter[];

  createdAt!: Date;
  updatedAt!: Date;
}

export type SegmentDocument = HydratedDocument<Segment>;
export const SegmentSchema = SchemaFactory.createForClass(Segment);

// Serves: listing a site's segments by name, and one name per site (409 on a second).
SegmentSchema.index({ siteId: 1, name: 1 }, { unique: true });
