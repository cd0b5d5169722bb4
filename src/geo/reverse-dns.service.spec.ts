import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { ConfigModule } from '@nestjs/config';
import { CommonModule } from '../common/common.module.js';
import type { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import { appConfig, trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { GeoModule } from './geo.module.js';
import {
  CACHE_TTL_MS,
  CONCURRENT_LOOKUPS,
  LOOKUP_TIMEOUT_MS,
  REVERSE_DNS_RESOLVER,
  ReverseDnsService,
  type ReverseDnsResolver,
} from './reverse-dns.service.js';

const GOOGLEBOT_IP = '66.249.66.1';
const NAMELESS_IP = '203.0.113.7';

/** A fake resolver that records every call: Googlebot's IP has a PTR name, every other IP none. */
function fakeResolver(answer: (ip: string) => Promise<string[]> = defaultAnswer) {
  const calls: string[] = [];
  const resolver: ReverseDnsResolver = (ip) => {
    calls.push(ip);
    return answer(ip);
  };
  return { resolver, calls };
}

function defaultAnswer(ip: string): Promise<string[]> {
  return Promise.resolve(ip === GOOGLEBOT_IP ? ['crawl-66-249-66-1.googlebot.com'] : []);
}

function service(resolver: ReverseDnsResolver, reverseDns = true): ReverseDnsService {
  return new ReverseDnsService({ reverseDns } as TrackingConfig, resolver, {} as ShutdownDeadline);
}

/** A listener (the hits' networkDomain write) that records the domains it is given. */
function recorder() {
  const domains: string[] = [];
  const listener = (domain: string) => {
    domains.push(domain);
    return Promise.resolve();
  };
  return { listener, domains };
}

describe('ReverseDnsService cache', () => {
  it('looks an IP with a PTR name up once and answers repeats from the cache', async () => {
    const { resolver, calls } = fakeResolver();
    const dns = service(resolver);
    const { listener, domains } = recorder();
    expect(dns.cached(GOOGLEBOT_IP)).toBeUndefined();
    for (let hit = 0; hit < 3; hit++) {
      dns.resolveLater(GOOGLEBOT_IP, listener);
      await dns.idle();
    }
    expect(calls).toEqual([GOOGLEBOT_IP]);
    expect(dns.cached(GOOGLEBOT_IP)).toBe('googlebot.com');
    // The hits that came in while the answer was not cached yet still get their domain.
    expect(domains).toEqual(['googlebot.com', 'googlebot.com', 'googlebot.com']);
  });

  it('caches "no name" too: an IP without a PTR record is looked up once, and no domain is written', async () => {
    const { resolver, calls } = fakeResolver();
    const dns = service(resolver);
    const { listener, domains } = recorder();
    for (let hit = 0; hit < 3; hit++) {
      dns.resolveLater(NAMELESS_IP, listener);
      await dns.idle();
    }
    expect(calls).toEqual([NAMELESS_IP]);
    expect(dns.cached(NAMELESS_IP)).toBeNull();
    expect(domains).toEqual([]);
  });

  it('caches a failing resolver as "no name"', async () => {
    const { resolver, calls } = fakeResolver(() => Promise.reject(new Error('ENOTFOUND')));
    const dns = service(resolver);
    const { listener, domains } = recorder();
    dns.resolveLater(NAMELESS_IP, listener);
    await dns.idle();
    dns.resolveLater(NAMELESS_IP, listener);
    await dns.idle();
    expect(calls).toEqual([NAMELESS_IP]);
    expect(dns.cached(NAMELESS_IP)).toBeNull();
    expect(domains).toEqual([]);
  });

  it('shares one lookup between hits of an IP that arrive while it is in flight', async () => {
    const { resolver, calls } = fakeResolver();
    const dns = service(resolver);
    const { listener, domains } = recorder();
    dns.resolveLater(GOOGLEBOT_IP, listener);
    dns.resolveLater(GOOGLEBOT_IP, listener);
    dns.resolveLater(NAMELESS_IP, listener);
    dns.resolveLater(NAMELESS_IP, listener);
    await dns.idle();
    expect(calls).toEqual([GOOGLEBOT_IP, NAMELESS_IP]);
    expect(domains).toEqual(['googlebot.com', 'googlebot.com']);
  });

  describe('with a clock', () => {
    afterEach(() => {
      jest.useRealTimers();
    });

    it('forgets positive and negative answers after the TTL', async () => {
      jest.useFakeTimers();
      const { resolver, calls } = fakeResolver();
      const dns = service(resolver);
      const { listener } = recorder();
      dns.resolveLater(GOOGLEBOT_IP, listener);
      dns.resolveLater(NAMELESS_IP, listener);
      await dns.idle();
      await jest.advanceTimersByTimeAsync(CACHE_TTL_MS - 1);
      expect([dns.cached(GOOGLEBOT_IP), dns.cached(NAMELESS_IP)]).toEqual(['googlebot.com', null]);
      await jest.advanceTimersByTimeAsync(1);
      expect([dns.cached(GOOGLEBOT_IP), dns.cached(NAMELESS_IP)]).toEqual([undefined, undefined]);
      dns.resolveLater(GOOGLEBOT_IP, listener);
      dns.resolveLater(NAMELESS_IP, listener);
      await dns.idle();
      expect(calls).toEqual([GOOGLEBOT_IP, NAMELESS_IP, GOOGLEBOT_IP, NAMELESS_IP]);
    });

    it('gives up on a resolver that never answers after the timeout, without blocking, and counts it as no name', async () => {
      jest.useFakeTimers();
      const { resolver, calls } = fakeResolver(() => new Promise<string[]>(() => undefined));
      const dns = service(resolver);
      const { listener, domains } = recorder();

      // resolveLater returns at once: the caller (the ingest request) never waits for DNS.
      const started = performance.now();
      dns.resolveLater(NAMELESS_IP, listener);
      expect(performance.now() - started).toBeLessThan(50);
      expect(calls).toEqual([NAMELESS_IP]);

      let settled = false;
      void dns.idle().then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(LOOKUP_TIMEOUT_MS - 1);
      expect(settled).toBe(false);
      expect(dns.cached(NAMELESS_IP)).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(settled).toBe(true);
      expect(dns.cached(NAMELESS_IP)).toBeNull();
      expect(domains).toEqual([]);

      // Counted as no name: the next hit from that IP does not try again.
      dns.resolveLater(NAMELESS_IP, listener);
      await jest.advanceTimersByTimeAsync(LOOKUP_TIMEOUT_MS);
      expect(calls).toEqual([NAMELESS_IP]);
    });
  });
});

describe('ReverseDnsService concurrency', () => {
  it(`never has more than ${CONCURRENT_LOOKUPS} resolver calls in flight, and does use that many`, async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { resolver, calls } = fakeResolver(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(Math.random() * 5)));
      inFlight--;
      return [];
    });
    const dns = service(resolver);
    const ips = Array.from({ length: CONCURRENT_LOOKUPS * 4 + 3 }, (_, i) => `198.51.100.${i + 1}`);
    for (const ip of ips) dns.resolveLater(ip, () => Promise.resolve());
    expect(calls).toHaveLength(CONCURRENT_LOOKUPS);
    await dns.idle();
    expect(calls.sort()).toEqual([...ips].sort());
    expect(maxInFlight).toBe(CONCURRENT_LOOKUPS);
    expect(inFlight).toBe(0);
  });
});

describe('ReverseDnsService with REVERSE_DNS=off', () => {
  const saved = { ...process.env };

  afterEach(() => {
    process.env = { ...saved };
  });

  it('never calls the resolver and caches nothing', async () => {
    process.env.REVERSE_DNS = 'off';
    process.env.VISITOR_SECRET = 'a-visitor-secret-for-this-unit-test-only';
    const { resolver, calls } = fakeResolver();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig, trackingConfig] }),
        CommonModule,
        GeoModule,
      ],
    })
      .overrideProvider(REVERSE_DNS_RESOLVER)
      .useValue(resolver)
      .compile();
    const dns = moduleRef.get(ReverseDnsService);
    const { listener, domains } = recorder();
    expect(dns.enabled).toBe(false);
    dns.resolveLater(GOOGLEBOT_IP, listener);
    dns.resolveLater(NAMELESS_IP, listener);
    await dns.idle();
    expect(calls).toEqual([]);
    expect(domains).toEqual([]);
    expect(dns.cached(GOOGLEBOT_IP)).toBeUndefined();
    await moduleRef.close();
  });

  it('(control) the same module with REVERSE_DNS=on does call it', async () => {
    process.env.REVERSE_DNS = 'on';
    process.env.VISITOR_SECRET = 'a-visitor-secret-for-this-unit-test-only';
    const { resolver, calls } = fakeResolver();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig, trackingConfig] }),
        CommonModule,
        GeoModule,
      ],
    })
      .overrideProvider(REVERSE_DNS_RESOLVER)
      .useValue(resolver)
      .compile();
    const dns = moduleRef.get(ReverseDnsService);
    dns.resolveLater(GOOGLEBOT_IP, () => Promise.resolve());
    await dns.idle();
    expect(calls).toEqual([GOOGLEBOT_IP]);
    await moduleRef.close();
  });
});
