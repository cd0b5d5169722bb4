import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/** One step: a page pattern or an event name (with an optional property match), and its label. */
export class StoredFunnelStep {
  kind!: 'page' | 'event';
  pagePath!: string | null;
  eventName!: string | null;
  propertyKey!: string | null;
  propertyValue!: string | null;
  label!: string;
}

/**
 * A funnel: 2 to 8 steps in order (Plausible's funnels). Its figures are never stored: every
 * read evaluates the steps over the raw hits and visits of the range asked for.
 */
@Schema({ collection: 'funnels', versionKey: false, timestamps: true })
export class Funnel {
  @Prop({ type: Types.ObjectId, required: true })
  siteId!: Types.ObjectId;

  @Prop({ required: true, trim: true })
  name!: string;

  @Prop({
    type: [
      {
        _id: false,
        kind: { type: String, enum: ['page', 'event'], required: true },
        pagePath: { type: String, default: null },
        eventName: { type: String, default: null },
        propertyKey: { type: String, default: null },
        propertyValue: { type: String, default: null },
        label: { type: String, required: true },
      },
    ],
    required: true,
  })
  steps!: StoredFunnelStep[];

  createdAt!: Date;
  updatedAt!: Date;
}

export type FunnelDocument = HydratedDocument<Funnel>;
export const FunnelSchema = SchemaFactory.createForClass(Funnel);

// Serves: listing a site's funnels by name, and one name per site (409 on a second).
FunnelSchema.index({ siteId: 1, name: 1 }, { unique: true });
