import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';
import { ROLES, type Role } from '../principal.js';

@Schema({ collection: 'users', versionKey: false, timestamps: true })
export class User {
  /** Lower-cased. Unique: serves `findByEmail` at login. */
  @Prop({ required: true, unique: true, lowercase: true, trim: true })
  email!: string;

  /** Self-describing scrypt hash (`scrypt$N=…,r=…,p=…$salt$hash`), never the password. */
  @Prop({ required: true })
  passwordHash!: string;

  /** Serves `countAdmins` (last-admin protection). */
  @Prop({ type: String, enum: ROLES, required: true, index: true })
  role!: Role;

  /** Sites a viewer may read; ignored for admins, who read every site. */
  @Prop({ type: [Types.ObjectId], default: [] })
  siteIds!: Types.ObjectId[];

  /** Part of every access token; bumping it (password change) invalidates the tokens issued before. */
  @Prop({ type: Number, default: 0 })
  tokenVersion!: number;

  /**
   * Set on the account made by the first-run setup form or from ADMIN_EMAIL, and only there. The
   * index is unique and sparse (accounts without the field are not in it), so when several
   * instances sharing one database create a first admin at the same moment, exactly one insert
   * succeeds: a check-then-insert on the user count could let all of them through.
   */
  @Prop({ type: Boolean, unique: true, sparse: true })
  firstAdmin?: boolean;

  createdAt!: Date;
  updatedAt!: Date;
}

export type UserDocument = HydratedDocument<User>;
export const UserSchema = SchemaFactory.createForClass(User);
