import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { appConfig, type AppConfig } from '../../config/configuration.js';

/**
 * The phases of a shutdown, each with the share of `SHUTDOWN_TIMEOUT_MS` (counted from the
 * signal) by which it must be over. What a phase has not finished by then is left for the next
 * start; `main.ts` exits at the whole budget whatever is still running.
 */
export const SHUTDOWN_PHASES = {
  /** New hits refused; queued hits written; background jobs stopped at their next step. */
  drain: 0.5,
  /** HTTP server closed: connections still busy then are cut. */
  http: 0.7,
  /** Database connection closed and the embedded store stopped. */
  database: 0.9,
} as const;

export type ShutdownPhase = keyof typeof SHUTDOWN_PHASES;

/**
 * One clock for the whole shutdown, so that every drain is bounded by the same budget: Kubernetes
 * and Docker send SIGKILL 10 s after SIGTERM, and a drain that waits for "nothing left to do" under
 * steady load never ends. Components stop taking new work when the module is destroyed (the first
 * step of Nest's shutdown), then wait for what they started through `settle`, which gives up at
 * their phase's deadline and logs one line per wait with its duration.
 *
 * A 202 is sent only after the database acknowledged the hits (on the embedded store: after the
 * journal was synced to disk), so giving up on a wait never loses an acknowledged hit: at worst a
 * client gets no answer for hits that may be stored, and its retry is refused as a duplicate.
 */
@Injectable()
export class ShutdownDeadline implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Shutdown');
  private readonly budgetMs: number;
  private startedAt: number | undefined;
  private httpCutoff: NodeJS.Timeout | undefined;

  constructor(
    @Inject(appConfig.KEY) app: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.budgetMs = app.shutdownTimeoutMs;
  }

  get totalMs(): number {
    return this.budgetMs;
  }

  /** Starts the clock (at the signal in `main.ts`, else at the first shutdown hook); idempotent. */
  begin(): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = performance.now();
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as Server | undefined;
    // Fastify's close waits for every request in progress (a stats read may take 24 s): whatever
    // is still open when the HTTP phase ends is cut, so the phases after it keep their share.
    if (server?.closeAllConnections) {
      this.httpCutoff = setTimeout(() => server.closeAllConnections(), this.msLeft('http'));
      this.httpCutoff.unref();
    }
  }

  /** Logs the HTTP phase: from Fastify's close until every connection is gone. */
  onModuleInit(): void {
    const fastify = this.adapterHost?.httpAdapter?.getInstance?.() as FastifyInstance | undefined;
    if (!fastify?.addHook) return;
    let closeStarted = 0;
    fastify.addHook('preClose', (done) => {
      closeStarted = performance.now();
      done();
    });
    fastify.addHook('onClose', (_instance, done) => {
      clearTimeout(this.httpCutoff);
      this.logger.log(`HTTP server: closed in ${Math.round(performance.now() - closeStarted)} ms`);
      done();
    });
  }

  onModuleDestroy(): void {
    this.begin();
  }

  /** Milliseconds since the clock started. */
  elapsedMs(): number {
    this.begin();
    return Math.round(performance.now() - this.startedAt!);
  }

  /** Milliseconds left before `phase` must be over (0 when it is already past). */
  msLeft(phase: ShutdownPhase): number {
    this.begin();
    return Math.max(0, this.startedAt! + SHUTDOWN_PHASES[phase] * this.budgetMs - performance.now());
  }

  /**
   * Waits for `work` until `phase`'s deadline; logs how long it took, or that it was left
   * unfinished and what becomes of it. True when it finished (a rejection counts as finished:
   * the caller logged it).
   */
  async settle(
    what: string,
    phase: ShutdownPhase,
    work: Promise<unknown> | undefined,
    whenCut = 'the next start resumes it',
  ): Promise<boolean> {
    const started = performance.now();
    if (work === undefined) {
      this.logger.log(`${what}: nothing in progress`);
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      work.then(
        () => 'done' as const,
        () => 'done' as const,
      ),
      new Promise<'cut'>((resolve) => {
        timer = setTimeout(() => resolve('cut'), this.msLeft(phase));
      }),
    ]);
    clearTimeout(timer);
    const ms = Math.round(performance.now() - started);
    if (outcome === 'done') this.logger.log(`${what}: done in ${ms} ms`);
    else this.logger.warn(`${what}: left unfinished after ${ms} ms (${whenCut})`);
    return outcome === 'done';
  }
}
