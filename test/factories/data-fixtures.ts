import request from 'supertest';
import { FIREFOX_UA } from './hit-fixtures.js';

export type KeyedHit = {
  url?: string;
  ip?: string;
  userId?: string;
  userAgent?: string;
  eventId?: string;
  name?: string;
  /** ISO 8601 */
  timestamp: string;
};

/** Sends hits with a site key through `POST /api/v1/hits` in batches of 500; returns the summed outcome. */
export async function sendHits(
  url: string,
  key: string,
  hits: Array<Record<string, unknown>>,
): Promise<{ accepted: number; duplicates: number; rejected: number }> {
  const total = { accepted: 0, duplicates: 0, rejected: 0 };
  for (let offset = 0; offset < hits.length; offset += 500) {
    const batch = hits
      .slice(offset, offset + 500)
      .map((hit) => ({ url: '/', userAgent: FIREFOX_UA, ip: '203.0.113.10', ...hit }));
    const response = await request(url).post('/api/v1/hits').set('Authorization', key).send({ hits: batch });
    if (response.status !== 202)
      throw new Error(`ingest answered ${response.status}: ${JSON.stringify(response.body)}`);
    const body = response.body as { accepted: number; duplicates: number; rejected: unknown[] };
    total.accepted += body.accepted;
    total.duplicates += body.duplicates;
    total.rejected += body.rejected.length;
  }
  return total;
}

/** `GET /api/v1/data/{users,views}` totals over an inclusive date range. */
export async function seedTotals(
  url: string,
  token: string,
  siteId: string,
  from: string,
  to: string,
): Promise<{ users: number; views: number }> {
  const get = async (metric: 'users' | 'views') => {
    const response = await request(url)
      .get(`/api/v1/data/${metric}`)
      .query({ siteId, start_date: from, end_date: to })
      .auth(token, { type: 'bearer' })
      .expect(200);
    return (response.body as { total: number }).total;
  };
  return { users: await get('users'), views: await get('views') };
}
