import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/**
 * One refresh token of a login session. Each refresh rotates it: the old one is marked
 * `rotatedAt` and a new one joins the same family, so presenting a rotated token again is
 * detectable reuse and revokes the whole family.
 */
@Schema({ collection: 'refresh_tokens', versionKey: false, timestamps: { createdAt: true, updatedAt: false } })
export class RefreshToken {
  /** Hex SHA-256 of the opaque token. Unique: serves `findByHash` on refresh and logout. */
  @Prop({ required: true, unique: true })
  tokenHash!: string;

  /** Serves `revokeFamily(familyId)`. */
  @Prop({ required: true, index: true })
  familyId!: string;

  /** Serves `revokeAllForUser(userId)` (password change, account deletion). */
  @Prop({ type: Types.ObjectId, required: true, index: true })
  userId!: Types.ObjectId;

  /** TTL index: MongoDB deletes expired tokens; code still checks expiry itself. */
  @Prop({ type: Date, required: true, expires: 0 })
  expiresAt!: Date;

  @Prop({ type: Date, default: null })
  rotatedAt!: Date | null;

  @Prop({ type: Date, default: null })
  revokedAt!: Date | null;
}

export type RefreshTokenDocument = HydratedDocument<RefreshToken>;
export const RefreshTokenSchema = SchemaFactory.createForClass(RefreshToken);
