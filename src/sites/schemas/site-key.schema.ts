import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { KEY_SCOPES, type KeyScope } from '../../auth/principal.js';

/** A site key. Only its SHA-256 is stored; the key itself is shown once, at creation. */
@Schema({ collection: 'site_keys', versionKey: false, timestamps: { createdAt: true, updatedAt: false } })
export class SiteKey {
  /** Serves `listForSite(siteId)` and `revokeAllForSite(siteId)`. */
  @Prop({ type: Types.ObjectId, required: true, index: true })
  siteId!: Types.ObjectId;

  /** Hex SHA-256 of the key. Unique: serves `findActiveByHash` on every key-authenticated request. */
  @Prop({ required: true, unique: true })
  keyHash!: string;

  /** First characters of the key (`sk_AbC123`), enough to recognise it in a list. */
  @Prop({ required: true })
  prefix!: string;

  @Prop({ type: [String], enum: KEY_SCOPES, required: true })
  scopes!: KeyScope[];

  @Prop({ type: Date, default: null })
  revokedAt!: Date | null;

  createdAt!: Date;
}

export type SiteKeyDocument = HydratedDocument<SiteKey>;
export const SiteKeySchema = SchemaFactory.createForClass(SiteKey);
