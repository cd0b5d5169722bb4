import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { LoginFailure } from './schemas/login-failure.schema.js';

@Injectable()
export class LoginFailuresRepository {
  constructor(@InjectModel(LoginFailure.name) private readonly failures: Model<LoginFailure>) {}

  async countFor(bucket: string): Promise<number> {
    const document = await this.failures.findOne({ bucket }).lean().exec();
    return document?.count ?? 0;
  }

  /** Atomic across app instances: `$inc` on an upserted bucket document. */
  async increment(bucket: string, expiresAt: Date): Promise<void> {
    await this.failures
      .updateOne({ bucket }, { $inc: { count: 1 }, $setOnInsert: { expiresAt } }, { upsert: true })
      .exec()
      .catch(async (error: unknown) => {
        // Two instances upserting the same new bucket: one insert loses the unique race; retry as an update.
        if ((error as { code?: unknown }).code !== 11000) throw error;
        await this.failures.updateOne({ bucket }, { $inc: { count: 1 } }).exec();
      });
  }

  async clear(bucket: string): Promise<void> {
    await this.failures.deleteOne({ bucket }).exec();
  }
}
