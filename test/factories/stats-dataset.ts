import request from 'supertest';
import { GOOGLEBOT_SMARTPHONE_UA } from './hit-fixtures.js';

/**
 * The hand-written golden dataset for the stats tests. The site's zone is America/New_York,
 * UTC−5 throughout February 2024 (DST starts on March 10), so local = UTC − 5 h. The test clock
 * stands at 2024-02-15T17:00:00Z = 12:00 local on Thursday, February 15.
 *
 * Visitors are identified by IP (VISITOR_ID_MODE=ip); geoip-lite 1.4.10 places the addresses:
 *   V1 81.2.69.142    GB, region ENG, St Albans      Firefox
 *   V2 195.154.0.1    FR, region IDF, Paris          Firefox
 *   V3 46.4.0.1       DE, no region, no city         Firefox
 *   V4 8.8.8.8        US, no region, no city         Safari on iPhone
 *   V5 80.67.169.12   FR, no region, no city         Firefox
 *   V6 userId user-42 from 81.2.69.142 (V1's address, but identified → its own visitor), GB St Albans
 *   B1 66.249.66.1    US, Googlebot user agent → BOT (isbot); reverse DNS crawl-66-249-66-1.googlebot.com
 *
 *  #  who  UTC time              local (NY)           url        name     visit
 *  1  V1   2024-02-10T15:00:00Z  Sat Feb 10 10:00     /          pageview A (V1)  15:00–15:10, 2 pv, 600 s
 *  2  V1   2024-02-10T15:10:00Z  Sat Feb 10 10:10     /about     pageview A
 *  3  V2   2024-02-10T16:00:00Z  Sat Feb 10 11:00     /          pageview C (V2)  1 pv, bounce, 0 s
 *  4  B1   2024-02-10T16:30:00Z  Sat Feb 10 11:30     /          pageview H (B1)  16:30–16:31, 2 pv, 60 s, BOT
 *  5  B1   2024-02-10T16:31:00Z  Sat Feb 10 11:31     /about     pageview H
 *  6  V3   2024-02-11T04:50:00Z  Sat Feb 10 23:50     /          pageview E (V3)  crosses local midnight:
 *  7  V3   2024-02-11T05:10:00Z  Sun Feb 11 00:10     /pricing   pageview E       04:50–05:10, 2 pv, 1200 s
 *  8  V1   2024-02-12T14:00:00Z  Mon Feb 12 09:00     /          pageview B (V1)  1 pv, bounce, 0 s
 *  9  V4   2024-02-12T20:00:00Z  Mon Feb 12 15:00     /about     pageview F (V4)  20:00–20:50, 3 pv + 1 event,
 * 10  V4   2024-02-12T20:05:00Z  Mon Feb 12 15:05     /about     signup   F       3000 s — one visit only because
 * 11  V4   2024-02-12T20:50:00Z  Mon Feb 12 15:50     /pricing   pageview F       of the late hit 12 (without it the
 * 12  V4   2024-02-12T20:25:00Z  Mon Feb 12 15:25     /blog      pageview F       45-min gap 20:05→20:50 splits it)
 * 13  V2   2024-02-15T16:58:00Z  Thu Feb 15 11:58     /          pageview D (V2)  today, 2 min before "now"
 * 14  B1   2024-02-15T16:57:00Z  Thu Feb 15 11:57     /          pageview I (B1)  today, BOT
 * 15  V6   2024-02-13T15:00:00Z  Tue Feb 13 10:00     /account   pageview G (V6)  1 pv, bounce, 0 s
 * 16  V5   2024-02-08T12:00:00Z  Thu Feb 8  07:00     /          pageview J (V5)  1 pv, bounce, 0 s
 *
 * Hit 12 is sent LAST, in its own request, after every other hit has been sessionized.
 */
export const GOLDEN_TIMEZONE = 'America/New_York';
export const GOLDEN_NOW = new Date('2024-02-15T17:00:00Z');

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1';

export const GOLDEN_IPS = {
  V1: '81.2.69.142',
  V2: '195.154.0.1',
  V3: '46.4.0.1',
  V4: '8.8.8.8',
  V5: '80.67.169.12',
  B1: '66.249.66.1',
} as const;

interface GoldenHit {
  url: string;
  ip: string;
  timestamp: string;
  userAgent: string;
  name?: string;
  userId?: string;
  referrer?: string;
}

const hit = (ip: string, timestamp: string, url: string, extra: Partial<GoldenHit> = {}): GoldenHit => ({
  url: `https://shop.example${url}`,
  ip,
  timestamp,
  userAgent: FIREFOX,
  ...extra,
});

export const GOLDEN_HITS_IN_ORDER: GoldenHit[] = [
  hit(GOLDEN_IPS.V1, '2024-02-10T15:00:00Z', '/'),
  hit(GOLDEN_IPS.V1, '2024-02-10T15:10:00Z', '/about'),
  hit(GOLDEN_IPS.V2, '2024-02-10T16:00:00Z', '/', { referrer: 'https://news.example.org/story' }),
  hit(GOLDEN_IPS.B1, '2024-02-10T16:30:00Z', '/', { userAgent: GOOGLEBOT_SMARTPHONE_UA }),
  hit(GOLDEN_IPS.B1, '2024-02-10T16:31:00Z', '/about', { userAgent: GOOGLEBOT_SMARTPHONE_UA }),
  hit(GOLDEN_IPS.V3, '2024-02-11T04:50:00Z', '/'),
  hit(GOLDEN_IPS.V3, '2024-02-11T05:10:00Z', '/pricing'),
  hit(GOLDEN_IPS.V1, '2024-02-12T14:00:00Z', '/'),
  hit(GOLDEN_IPS.V4, '2024-02-12T20:00:00Z', '/about', { userAgent: IPHONE }),
  hit(GOLDEN_IPS.V4, '2024-02-12T20:05:00Z', '/about', { userAgent: IPHONE, name: 'signup' }),
  hit(GOLDEN_IPS.V4, '2024-02-12T20:50:00Z', '/pricing', { userAgent: IPHONE }),
  hit(GOLDEN_IPS.V2, '2024-02-15T16:58:00Z', '/'),
  hit(GOLDEN_IPS.B1, '2024-02-15T16:57:00Z', '/', { userAgent: GOOGLEBOT_SMARTPHONE_UA }),
  hit(GOLDEN_IPS.V1, '2024-02-13T15:00:00Z', '/account', { userId: 'user-42' }),
  hit(GOLDEN_IPS.V5, '2024-02-08T12:00:00Z', '/'),
];

export const GOLDEN_LATE_HIT: GoldenHit = hit(GOLDEN_IPS.V4, '2024-02-12T20:25:00Z', '/blog', { userAgent: IPHONE });

/** The fake PTR records the golden tests install (only Googlebot's address resolves). */
export async function goldenReverseDns(ip: string): Promise<string[]> {
  if (ip === GOLDEN_IPS.B1) return ['crawl-66-249-66-1.googlebot.com'];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
}

/** Sends hits through the real ingest API with a key (which may set `ip` and `timestamp`). */
export async function sendHits(url: string, ingestKey: string, hits: GoldenHit[]): Promise<void> {
  const response = await request(url).post('/api/v1/hits').set('Authorization', `Bearer ${ingestKey}`).send({ hits });
  if (response.status !== 202 || response.body.accepted !== hits.length) {
    throw new Error(`ingest failed: ${response.status} ${JSON.stringify(response.body)}`);
  }
}
