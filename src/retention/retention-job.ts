import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import { Clock } from '../common/time/clock.js';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { LeaseService } from '../database/leases/lease.service.js';
import { DataPurgeService, type DeletedCounts } from './data-purge.service.js';

export interface RetentionSchedule {
  /** Delay of the first run after boot. */
  firstRunDelayMs: number;
  /** Between runs; also how long a run's lease lasts. */
  intervalMs: number;
}

export const RETENTION_SCHEDULE = Symbol('RETENTION_SCHEDULE');
export const DEFAULT_RETENTION_SCHEDULE: RetentionSchedule = { firstRunDelayMs: 60_000, intervalMs: 60 * 60_000 };
export const RETENTION_LEASE = 'retention';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionRun {
  cutoff: Date;
  deleted: DeletedCounts;
}

/**
 * RETENTION_DAYS > 0: every interval, deletes hits older than now − RETENTION_DAYS and the visits
 * derived from them. Each run first takes the `retention` lease for one interval, so with several
 * instances on one database exactly one of them purges per interval; the holder renews it on its
 * next run, and if it dies the lease expires and another instance takes over.
 */
@Injectable()
export class RetentionJob implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionJob.name);
  /** Identifies this process as a lease holder. */
  readonly holder = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    @Inject(trackingConfig.KEY) private readonly config: TrackingConfig,
    @Inject(RETENTION_SCHEDULE) private readonly schedule: RetentionSchedule,
    private readonly leases: LeaseService,
    private readonly purge: DataPurgeService,
    private readonly clock: Clock,
    private readonly shutdown: ShutdownDeadline,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.retentionDays > 0) this.scheduleNext(this.schedule.firstRunDelayMs);
  }

  /** Shutdown: no new run, and a run in progress stops before its next site. */
  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.onModuleDestroy();
    await this.shutdown.settle('Retention job', 'drain', this.running);
  }

  /** One run: null when retention is off or another instance holds the lease. */
  async runOnce(): Promise<RetentionRun | null> {
    if (this.config.retentionDays <= 0) return null;
    if (!(await this.leases.acquire(RETENTION_LEASE, this.holder, this.schedule.intervalMs))) return null;
    const cutoff = new Date(this.clock.now().getTime() - this.config.retentionDays * DAY_MS);
    const deleted = await this.purge.purgeAllBefore(cutoff, () => this.stopped);
    this.logger.log(
      `Retention removed ${deleted.hits} hits and ${deleted.visits} visits older than ${cutoff.toISOString()}`,
    );
    return { cutoff, deleted };
  }

  private scheduleNext(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((error: unknown) =>
          this.logger.error(`Retention run failed: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(() => {
          this.running = undefined;
          this.scheduleNext(this.schedule.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }
}
