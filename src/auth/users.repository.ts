import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isValidObjectId, Types, type Model } from 'mongoose';
import type { Role } from './principal.js';
import { User, type UserDocument } from './schemas/user.schema.js';

export interface StoredUser {
  id: string;
  email: string;
  passwordHash: string;
  role: Role;
  siteIds: string[];
  tokenVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserChanges {
  email?: string;
  passwordHash?: string;
  role?: Role;
  siteIds?: string[];
}

function toStoredUser(document: UserDocument): StoredUser {
  return {
    id: document._id.toHexString(),
    email: document.email,
    passwordHash: document.passwordHash,
    role: document.role,
    siteIds: document.siteIds.map((id) => id.toHexString()),
    tokenVersion: document.tokenVersion ?? 0,
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}

const toObjectIds = (ids: string[]) => ids.map((id) => new Types.ObjectId(id));

@Injectable()
export class UsersRepository {
  constructor(@InjectModel(User.name) private readonly users: Model<User>) {}

  async create(user: {
    email: string;
    passwordHash: string;
    role: Role;
    siteIds: string[];
    firstAdmin?: true;
  }): Promise<StoredUser> {
    return toStoredUser(await this.users.create({ ...user, siteIds: toObjectIds(user.siteIds) }));
  }

  async findById(id: string): Promise<StoredUser | null> {
    if (!isValidObjectId(id)) return null;
    const document = await this.users.findById(id).exec();
    return document ? toStoredUser(document) : null;
  }

  async findByEmail(email: string): Promise<StoredUser | null> {
    const document = await this.users.findOne({ email: email.toLowerCase() }).exec();
    return document ? toStoredUser(document) : null;
  }

  async listAll(): Promise<StoredUser[]> {
    const documents = await this.users.find().sort({ email: 1 }).exec();
    return documents.map(toStoredUser);
  }

  async anyExists(): Promise<boolean> {
    return (await this.users.exists({}).exec()) !== null;
  }

  async countAdmins(): Promise<number> {
    return this.users.countDocuments({ role: 'admin' }).exec();
  }

  /** A password change bumps the token version, which invalidates access tokens issued before it. */
  async update(id: string, changes: UserChanges): Promise<StoredUser | null> {
    const { siteIds, ...rest } = changes;
    const update: Record<string, unknown> = {
      $set: { ...rest, ...(siteIds ? { siteIds: toObjectIds(siteIds) } : {}) },
    };
    if (changes.passwordHash) update.$inc = { tokenVersion: 1 };
    const document = await this.users.findByIdAndUpdate(id, update, { returnDocument: 'after' }).exec();
    return document ? toStoredUser(document) : null;
  }

  /** Same password, stronger parameters: sessions stay valid. */
  async replacePasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { passwordHash } }).exec();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.users.deleteOne({ _id: id }).exec();
    return result.deletedCount === 1;
  }
}
