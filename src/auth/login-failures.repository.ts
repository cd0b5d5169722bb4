import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { isDuplicateKeyError } from '../database/database-errors.js';
import { LoginFailure } from './schemas/login-failure.schema.js';

/**
 * Every method is one atomic update of one bucket document, so the counts hold across app
 * instances. A reservation (`pending`) is ended by exactly one of `release`, `recordFailure`
 * or `releaseAndClear`; those only decrement `pending` while it is positive.
 */
@Injectable()
export class LoginFailuresRepository {
  constructor(@InjectModel(LoginFailure.name) private readonly failures: Model<LoginFailure>) {}

  /**
   * Reserves an attempt: `$inc` of `pending` on the upserted bucket document. Returns the
   * failures plus the undecided attempts, this one included, as of that increment.
   */
  async reserve(bucket: string, expiresAt: Date): Promise<number> {
    const reserve = () =>
      this.failures
        .findOneAndUpdate(
          { bucket },
          { $inc: { pending: 1 }, $setOnInsert: { count: 0, expiresAt } },
          { upsert: true, returnDocument: 'after' },
        )
        .lean()
        .exec();
    // Two instances upserting the same new bucket: one insert loses the unique race; the retry updates.
    const document = await reserve().catch((error: unknown) =>
      isDuplicateKeyError(error) ? reserve() : Promise.reject(error),
    );
    return (document?.count ?? 0) + (document?.pending ?? 0);
  }

  /** Ends a reservation without counting it (refused, succeeded, or aborted by an error). */
  async release(bucket: string): Promise<void> {
    await this.failures.updateOne({ bucket, pending: { $gt: 0 } }, { $inc: { pending: -1 } }).exec();
  }

  /** Ends a reservation as a failed login. */
  async recordFailure(bucket: string): Promise<void> {
    await this.failures.updateOne({ bucket, pending: { $gt: 0 } }, { $inc: { pending: -1, count: 1 } }).exec();
  }

  /**
   * Ends a reservation and forgets the bucket's failures. Other attempts still undecided keep
   * their reservations (deleting the document would drop them, and their later failures).
   */
  async releaseAndClear(bucket: string): Promise<void> {
    await this.failures
      .updateOne({ bucket, pending: { $gt: 0 } }, { $inc: { pending: -1 }, $set: { count: 0 } })
      .exec();
  }

  /** Counts a failure without a reservation in this bucket (the window ended while the password was checked). */
  async increment(bucket: string, expiresAt: Date): Promise<void> {
    const increment = () =>
      this.failures.updateOne({ bucket }, { $inc: { count: 1 }, $setOnInsert: { expiresAt } }, { upsert: true }).exec();
    await increment().catch((error: unknown) => (isDuplicateKeyError(error) ? increment() : Promise.reject(error)));
  }

  /** Forgets the bucket's failures, keeping undecided attempts' reservations. */
  async clear(bucket: string): Promise<void> {
    await this.failures.updateOne({ bucket }, { $set: { count: 0 } }).exec();
  }
}
