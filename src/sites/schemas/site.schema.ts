import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { HydratedDocument } from 'mongoose';

@Schema({ collection: 'sites', versionKey: false, timestamps: { createdAt: true, updatedAt: false } })
export class Site {
  /** Bare lower-case host, e.g. `example.com`. Unique: serves `findByIdOrDomain` by domain. */
  @Prop({ required: true, unique: true, lowercase: true, trim: true })
  domain!: string;

  @Prop({ required: true, trim: true })
  name!: string;

  /** IANA zone that defines the site's calendar days, the days of every stat. */
  @Prop({ required: true, default: 'UTC' })
  timezone!: string;

  /** Extra browser origins (`https://app.example.net`) allowed to send hits besides the domain. */
  @Prop({ type: [String], default: [] })
  allowedOrigins!: string[];

  /** When true, browser hits sent with `DNT: 1` are dropped (opt-in, as in Umami). */
  @Prop({ default: false })
  respectDoNotTrack!: boolean;

  createdAt!: Date;
}

export type SiteDocument = HydratedDocument<Site>;
export const SiteSchema = SchemaFactory.createForClass(Site);
