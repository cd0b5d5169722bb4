import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
import type { Model } from 'mongoose';
import { Clock } from '../../common/time/clock.js';
import { Lease } from './lease.schema.js';
import { isDuplicateKeyError } from '../database-errors.js';

/**
 * Cluster-wide mutual exclusion through one MongoDB document per job. `acquire` is a single
 * atomic `findOneAndUpdate` with upsert: it matches the job's document only when the lease has
 * expired or is already ours; when someone else holds it, the upsert collides with the existing
 * `_id` (E11000) and the caller learns it lost. Time comes from the injected Clock.
 */
@Injectable()
export class LeaseService {
  constructor(
    @InjectModel(Lease.name) private readonly model: Model<Lease>,
    private readonly clock: Clock,
  ) {}

  private get collection(): Collection<Lease> {
    return this.model.collection as unknown as Collection<Lease>;
  }

  /** Takes (or renews) the lease `name` for `ttlMs`; false when another holder's lease is still valid. */
  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    try {
      await this.collection.findOneAndUpdate(
        { _id: name, $or: [{ expiresAt: { $lt: now } }, { holder }] },
        { $set: { holder, expiresAt: new Date(now.getTime() + ttlMs) } },
        { upsert: true },
      );
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  /** Gives the lease up early so another holder need not wait for it to expire. */
  async release(name: string, holder: string): Promise<void> {
    await this.collection.updateOne({ _id: name, holder }, { $set: { expiresAt: new Date(0) } });
  }

  /** The current holder of an unexpired lease, if any. */
  async holder(name: string): Promise<string | null> {
    const lease = await this.collection.findOne({ _id: name, expiresAt: { $gte: this.clock.now() } });
    return lease?.holder ?? null;
  }
}
