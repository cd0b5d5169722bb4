import { writeFileSync } from 'node:fs';
import { FIREFOX_UA, GOOGLEBOT_SMARTPHONE_UA } from './hit-fixtures.js';

const CHROME_PHONE_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36';
const USER_AGENTS = [FIREFOX_UA, CHROME_PHONE_UA, GOOGLEBOT_SMARTPHONE_UA];
const HOUR_MS = 60 * 60 * 1000;

export interface ImportHitsSpec {
  count: number;
  /** Distinct IP addresses the hits come from. */
  visitors: number;
  /** The hits spread over the 10 days before this instant. */
  now: Date;
}

/**
 * Deterministic hits in the `POST /api/v1/hits` key shape: public IPs over many countries, three
 * user agents (one a bot), 40 pages, a few referrers and signed-in users; every other hit has an
 * eventId, the rest rely on the import's derived ids.
 */
export function importHits({ count, visitors, now }: ImportHitsSpec): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => {
    const visitor = (i * 7919) % visitors;
    const hit: Record<string, unknown> = {
      url: `https://shop.example/page-${i % 40}${i % 9 === 0 ? '?utm_source=newsletter' : ''}`,
      userAgent: USER_AGENTS[visitor % USER_AGENTS.length],
      ip: `${((visitor * 37) % 200) + 20}.${(visitor * 53) % 250}.${(visitor * 11) % 250}.${(visitor % 250) + 1}`,
      timestamp: new Date(now.getTime() - ((i * 104729) % ((240 * HOUR_MS) / 1000)) * 1000 - HOUR_MS).toISOString(),
    };
    if (i % 2 === 0) hit.eventId = `evt-${i}`;
    if (i % 5 === 0) hit.referrer = `https://news.example/item/${i % 13}`;
    if (visitor % 50 === 0) hit.userId = `customer-${visitor}`;
    if (i % 17 === 0) {
      hit.name = 'signup';
      hit.props = { plan: i % 2 === 0 ? 'pro' : 'free', seats: i % 4 };
    }
    return hit;
  });
}

export function writeNdjson(path: string, rows: Array<Record<string, unknown>>): void {
  writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
}
