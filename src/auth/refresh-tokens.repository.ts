import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import { RefreshToken } from './schemas/refresh-token.schema.js';

export interface StoredRefreshToken {
  familyId: string;
  userId: string;
  expiresAt: Date;
  rotatedAt: Date | null;
  revokedAt: Date | null;
}

@Injectable()
export class RefreshTokensRepository {
  constructor(@InjectModel(RefreshToken.name) private readonly tokens: Model<RefreshToken>) {}

  async create(token: { tokenHash: string; familyId: string; userId: string; expiresAt: Date }): Promise<void> {
    await this.tokens.create({ ...token, userId: new Types.ObjectId(token.userId) });
  }

  async findByHash(tokenHash: string): Promise<StoredRefreshToken | null> {
    const document = await this.tokens.findOne({ tokenHash }).exec();
    if (!document) return null;
    return {
      familyId: document.familyId,
      userId: document.userId.toHexString(),
      expiresAt: document.expiresAt,
      rotatedAt: document.rotatedAt ?? null,
      revokedAt: document.revokedAt ?? null,
    };
  }

  /**
   * Marks a live token as used. Returns false when it already was (or was revoked), which is
   * how two concurrent refreshes with one token are caught: only one of them wins.
   */
  async markRotated(tokenHash: string, at: Date): Promise<boolean> {
    const result = await this.tokens
      .updateOne({ tokenHash, rotatedAt: null, revokedAt: null }, { $set: { rotatedAt: at } })
      .exec();
    return result.modifiedCount === 1;
  }

  async revokeFamily(familyId: string, at: Date): Promise<void> {
    await this.tokens.updateMany({ familyId, revokedAt: null }, { $set: { revokedAt: at } }).exec();
  }

  async revokeAllForUser(userId: string, at: Date): Promise<void> {
    await this.tokens
      .updateMany({ userId: new Types.ObjectId(userId), revokedAt: null }, { $set: { revokedAt: at } })
      .exec();
  }

  async deleteAllForUser(userId: string): Promise<void> {
    await this.tokens.deleteMany({ userId: new Types.ObjectId(userId) }).exec();
  }
}
