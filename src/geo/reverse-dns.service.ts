import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { promises as dns } from 'node:dns';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { LruCache } from './lru-cache.js';
import { registrableDomain } from './registrable-domain.js';

/** Resolves an IP to its PTR names. Tests bind a fake; production uses the system resolver. */
export const REVERSE_DNS_RESOLVER = Symbol('REVERSE_DNS_RESOLVER');
export type ReverseDnsResolver = (ip: string) => Promise<string[]>;
export const systemReverseDnsResolver: ReverseDnsResolver = (ip) => dns.reverse(ip);

type DomainListener = (networkDomain: string) => Promise<void>;

const CACHE_ENTRIES = 10_000;
const CACHE_TTL_MS = 60 * 60 * 1000;
const LOOKUP_TIMEOUT_MS = 1000;
const CONCURRENT_LOOKUPS = 8;
/** Beyond this many IPs waiting for a lookup, new ones are skipped (their hits keep networkDomain null). */
const MAX_PENDING = 5000;

/**
 * The visitor's network domain (SPEC §4: reverse DNS reduced to its registrable part), resolved
 * off the request path. IPs live only in this in-memory queue and cache, never in a document or
 * a log line. Lookups are deduplicated per IP, time out after a second, run a few at a time,
 * and both answers and failures are cached for an hour. `REVERSE_DNS=off` disables it.
 */
@Injectable()
export class ReverseDnsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ReverseDnsService.name);
  private readonly cache = new LruCache<string, string | null>(CACHE_ENTRIES, CACHE_TTL_MS);
  private readonly pending = new Map<string, DomainListener[]>();
  private readonly queue: string[] = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    @Inject(trackingConfig.KEY) private readonly config: TrackingConfig,
    @Inject(REVERSE_DNS_RESOLVER) private readonly resolver: ReverseDnsResolver,
  ) {}

  get enabled(): boolean {
    return this.config.reverseDns && !this.stopped;
  }

  /** The cached answer: a domain, null (known not to resolve), or undefined (not looked up yet). */
  cached(ip: string): string | null | undefined {
    return this.cache.get(ip, Date.now());
  }

  /** Looks the IP up in the background and calls `listener` with the domain when there is one. */
  resolveLater(ip: string, listener: DomainListener): void {
    if (!this.enabled) return;
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
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const ip of this.queue.splice(0)) this.pending.delete(ip);
    await this.idle();
  }

  private pump(): void {
    while (this.running < CONCURRENT_LOOKUPS && this.queue.length > 0) {
      const ip = this.queue.shift()!;
      this.running++;
      void this.lookup(ip).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
    }
  }

  private async lookup(ip: string): Promise<void> {
    const domain = await this.resolveDomain(ip);
    this.cache.set(ip, domain, Date.now());
    const listeners = this.pending.get(ip) ?? [];
    this.pending.delete(ip);
    if (domain === null) return;
    for (const listener of listeners) {
      await listener(domain).catch((error: unknown) =>
        this.logger.warn(`Could not store a network domain: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
  }

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
