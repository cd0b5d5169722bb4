import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Failed logins counted per subject (a keyed hash of the client IP or of the email, never the
 * value itself) in fixed windows. Kept in MongoDB so every app instance sees the same counts.
 */
@Schema({ collection: 'login_failures', versionKey: false })
export class LoginFailure {
  /** `ip:<hmac>` or `account:<hmac>` plus the window start. Unique: every update finds its document by it. */
  @Prop({ required: true, unique: true })
  bucket!: string;

  /** Failed logins in the window (attempts that were refused with 429 are not counted). */
  @Prop({ required: true, default: 0 })
  count!: number;

  /**
   * Attempts admitted but not yet decided (password still being checked). The limit applies to
   * `count + pending`, so parallel attempts cannot all pass a check made before any failed.
   * Absent on documents written before it existed, which reads as 0.
   */
  @Prop({ default: 0 })
  pending!: number;

  /** End of the window. TTL index: MongoDB deletes finished windows. */
  @Prop({ type: Date, required: true, expires: 0 })
  expiresAt!: Date;
}

export const LoginFailureSchema = SchemaFactory.createForClass(LoginFailure);
