import { mulberry32 } from '../support/seeded-random.js';

/**
 * A deterministic, mixed dataset for comparing deployments: visitors from several countries,
 * humans and crawlers, visits separated by idle gaps, a week of days. Built from a seeded PRNG
 * so every run sends exactly the same hits.
 */
export interface DatasetHit {
  url: string;
  ip: string;
  userAgent: string;
  timestamp: string;
  referrer?: string;
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];
/** Public addresses geoip-lite places in different countries and cities. */
const IPS = [
  '81.2.69.142',
  '89.160.20.112',
  '2.125.160.216',
  '67.43.156.1',
  '216.160.83.56',
  '175.16.199.1',
  '202.196.224.1',
  '5.62.60.1',
];
const PAGES = ['/', '/pricing', '/blog', '/blog/launch', '/docs', '/docs/install', '/about'];
const REFERRERS = [undefined, 'https://www.google.com/search?q=x', 'https://news.ycombinator.com/'];
const MINUTE = 60_000;

/**
 * `visitors` visitors (IP × user agent), each with 1–4 visits of 1–6 hits a few minutes apart,
 * visits starting anywhere in the `days` days from `start`. Returned in time order.
 */
export function splitDataset(options: { start: Date; days: number; visitors: number; seed: number }): DatasetHit[] {
  const next = mulberry32(options.seed);
  const pick = <T>(values: T[]): T => values[Math.floor(next() * values.length)];
  const hits: DatasetHit[] = [];
  for (let visitor = 0; visitor < options.visitors; visitor++) {
    const ip = IPS[visitor % IPS.length].replace(/\.\d+$/, `.${10 + visitor}`);
    const userAgent = USER_AGENTS[Math.floor(visitor / IPS.length) % USER_AGENTS.length];
    const visits = 1 + Math.floor(next() * 4);
    for (let visit = 0; visit < visits; visit++) {
      let at = options.start.getTime() + Math.floor(next() * options.days * 24 * 60) * MINUTE;
      const pages = 1 + Math.floor(next() * 6);
      for (let page = 0; page < pages; page++) {
        const hit: DatasetHit = { url: pick(PAGES), ip, userAgent, timestamp: new Date(at).toISOString() };
        const referrer = page === 0 ? pick(REFERRERS) : undefined;
        if (referrer) hit.referrer = referrer;
        hits.push(hit);
        at += (1 + Math.floor(next() * 8)) * MINUTE;
      }
    }
  }
  return hits.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}
