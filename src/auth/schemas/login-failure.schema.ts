import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Failed logins counted per subject (a keyed hash of the client IP or of the email, never the
 * value itself) in fixed windows. Kept in MongoDB so every app instance sees the same counts.
 */
@Schema({ collection: 'login_failures', versionKey: false })
export class LoginFailure {
  /** `ip:<hmac>` or `account:<hmac>` plus the window start. Unique: serves `increment` and `countFor`. */
  @Prop({ required: true, unique: true })
  bucket!: string;

  @Prop({ required: true, default: 0 })
  count!: number;

  /** End of the window. TTL index: MongoDB deletes finished windows. */
  @Prop({ type: Date, required: true, expires: 0 })
  expiresAt!: Date;
}

export const LoginFailureSchema = SchemaFactory.createForClass(LoginFailure);
