import { mulberry32 } from './seeded-random.js';

/**
 * Synthetic traffic: a fixed pool of user agents (browsers, phones, a few crawlers), visitor
 * IPs drawn from public ranges geoip-lite knows, and a Zipf-ish choice of pages, so caches see
 * what real traffic shows them (a few hundred UAs, many visitors, popular pages).
 */
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'curl/8.4.0',
];
/** Versions multiply the pool to a few hundred distinct strings, as real traffic has. */
const UA_POOL = USER_AGENTS.flatMap((ua, index) =>
  Array.from({ length: index < 10 ? 30 : 3 }, (_, version) =>
    ua.replace(/(Chrome|Firefox|Version)\/(\d+)/, `$1/$2.${version}`),
  ),
);

const PAGES = Array.from({ length: 200 }, (_, index) => (index === 0 ? '/' : `/section-${index % 12}/page-${index}`));
const REFERRERS = [
  undefined,
  undefined,
  'https://www.google.com/search?q=x',
  'https://news.ycombinator.com/',
  'https://twitter.com/',
];
const FIRST_OCTETS = [
  3, 5, 8, 12, 18, 24, 31, 37, 46, 51, 62, 77, 81, 88, 91, 103, 109, 121, 133, 151, 176, 185, 195, 201, 213,
];

/** The user agent of visitor number `visitor`: the same on every hit, so a returning visitor is recognised. */
export function userAgentOf(visitor: number): string {
  return UA_POOL[visitor % UA_POOL.length];
}

export interface HitShape {
  url: string;
  userAgent: string;
  ip: string;
  referrer?: string;
  timestamp?: string;
}

export class TrafficGenerator {
  private readonly next: () => number;

  /** `visitors` distinct IPs; `spanMs` > 0 spreads timestamps over the last spanMs. */
  constructor(
    private readonly visitors: number,
    seed = 1,
    private readonly spanMs = 0,
  ) {
    this.next = mulberry32(seed);
  }

  ip(visitor: number): string {
    const octet = FIRST_OCTETS[visitor % FIRST_OCTETS.length];
    const rest = Math.floor(visitor / FIRST_OCTETS.length);
    // Host part 1..250: never .0 or .255, and always a valid octet.
    const host = (rest % 250) + 1;
    const network = Math.floor(rest / 250);
    return `${octet}.${(network >> 8) & 255}.${network & 255}.${host}`;
  }

  hit(now = Date.now()): HitShape {
    const visitor = Math.floor(this.next() * this.visitors);
    const page = PAGES[Math.floor(PAGES.length * this.next() ** 2)];
    const hit: HitShape = {
      url: `https://bench.test${page}`,
      userAgent: userAgentOf(visitor),
      ip: this.ip(visitor),
    };
    const referrer = REFERRERS[Math.floor(this.next() * REFERRERS.length)];
    if (referrer) hit.referrer = referrer;
    if (this.spanMs > 0) hit.timestamp = new Date(now - Math.floor(this.next() * this.spanMs)).toISOString();
    return hit;
  }

  batch(size: number, now = Date.now()): HitShape[] {
    return Array.from({ length: size }, () => this.hit(now));
  }
}
