import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import { promises as dns } from 'node:dns';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { LruCache } from '../common/collections/lru-cache.js';
import { registrableDomain } from './registrable-domain.js';

/** Resolves an IP to its PTR names. Tests bind a fake; production uses the system resolver. */
export const REVERSE_DNS_RESOLVER = Symbol('REVERSE_DNS_RESOLVER');
export type ReverseDnsResolver = (ip: string) => Promise<string[]>;
export const systemReverseDnsResolver: ReverseDnsResolver = (ip) => dns.reverse(ip);

type DomainListener = (networkDomain: string) => Promise<void>;

const CACHE_ENTRIES = 10_000;
export const CACHE_TTL_MS = 60 * 60 * 1000;
export const LOOKUP_TIMEOUT_MS = 1000;
export const CONCURRENT_LOOKUPS = 8;
/** Beyond this many IPs waiting for a lookup, new ones are skipped (their hits keep networkDomain null). */
const MAX_PENDING = 5000;

/**
 * The visitor's network domain (reverse DNS reduced to its registrable part, docs/metrics.md), resolved
 * off the request path. IPs live only in this in-memory queue and cache, never in a document or
 * a log line. Lookups are deduplicated per IP, time out after a second, run a few at a time,
 * and both answers and "no name" (no PTR record, a resolver error or a timeout) are cached for
 * an hour, so an IP is looked up at most once per hour whatever its traffic. `REVERSE_DNS=off`
 * disables it: the resolver is never called.
 */
@Injectable()
export class ReverseDnsService implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(ReverseDnsService.name);
  private readonly cache = new LruCache<string, string | null>(CACHE_ENTRIES, CACHE_TTL_MS);
  private readonly pending = new Map<string, DomainListener[]>();
  private readonly queue: string[] = [];
  private running = 0;
  /** Listener calls for IPs answered from the cache, outside the lookup slots (see `idle`). */
  private notifying = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    @Inject(trackingConfig.KEY) private readonly config: TrackingConfig,
    @Inject(REVERSE_DNS_RESOLVER) private readonly resolver: ReverseDnsResolver,
    private readonly shutdown: ShutdownDeadline,
  ) {}

  get enabled(): boolean {
    return this.config.reverseDns && !this.stopped;
  }

  /** The cached answer: a domain, null (known not to resolve), or undefined (not looked up yet). */
  cached(ip: string): string | null | undefined {
    return this.cache.get(ip, Date.now());
  }

  /**
   * Looks the IP up in the background and calls `listener` with the domain when there is one.
   * An IP already cached is not looked up again: a cached "no name" ends here, and a cached
   * domain (answered after the hit was enriched) goes straight to the listener. An IP already
   * queued or in flight shares that lookup.
   */
  resolveLater(ip: string, listener: DomainListener): void {
    if (!this.enabled) return;
    const cached = this.cached(ip);
    if (cached !== undefined) {
      if (cached !== null) this.notifyCached(cached, listener);
      return;
    }
    const waiting = this.pending.get(ip);
    if (waiting) {
      waiting.push(listener);
      return;
    }
    if (this.pending.size >= MAX_PENDING) return;
    this.pending.set(ip, [listener]);
    this.queue.push(ip);
    this.pump();
  }

  /** Resolves when no lookup is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Shutdown: lookups not started yet are dropped (their hits keep networkDomain null). */
  onModuleDestroy(): void {
    this.stopped = true;
    for (const ip of this.queue.splice(0)) this.pending.delete(ip);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.onModuleDestroy();
    await this.shutdown.settle('Reverse DNS', 'drain', this.idle());
  }

  private pump(): void {
    while (this.running < CONCURRENT_LOOKUPS && this.queue.length > 0) {
      const ip = this.queue.shift()!;
      this.running++;
      void this.lookup(ip).finally(() => {
        this.running--;
        this.pump();
        this.wakeIdleWaiters();
      });
    }
  }

  private notifyCached(domain: string, listener: DomainListener): void {
    this.notifying++;
    void this.notify(domain, [listener]).finally(() => {
      this.notifying--;
      this.wakeIdleWaiters();
    });
  }

  private isIdle(): boolean {
    return this.running === 0 && this.notifying === 0 && this.queue.length === 0;
  }

  private wakeIdleWaiters(): void {
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async lookup(ip: string): Promise<void> {
    // Cached (a domain or null) as the IP leaves `pending`: later hits find the answer instead of
    // starting a second lookup, and the listeners notified below are exactly the waiting ones.
    const domain = await this.resolveDomain(ip);
    this.cache.set(ip, domain, Date.now());
    const listeners = this.pending.get(ip) ?? [];
    this.pending.delete(ip);
    if (domain !== null) await this.notify(domain, listeners);
  }

  private async notify(domain: string, listeners: DomainListener[]): Promise<void> {
    for (const listener of listeners) {
      await Promise.resolve()
        .then(() => listener(domain))
        .catch((error: unknown) =>
          this.logger.warn(
            `Could not store a network domain: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
    }
  }

  /** The registrable domain of the IP's first usable PTR name; null for none, an error or a timeout. */
  private async resolveDomain(ip: string): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string[]>((resolve) => {
      timer = setTimeout(() => resolve([]), LOOKUP_TIMEOUT_MS);
    });
    try {
      const names = await Promise.race([this.resolver(ip).catch(() => []), timeout]);
      for (const name of names) {
        const domain = registrableDomain(name);
        if (domain) return domain;
      }
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
