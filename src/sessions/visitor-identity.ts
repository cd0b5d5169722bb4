import { createHmac } from 'node:crypto';
import type { VisitorIdMode } from '../config/environment.js';

export interface VisitorIdentityInput {
  siteId: string;
  ip: string;
  userAgent: string;
  userId?: string;
  /** The hit's time: in `daily` mode it picks the day's salt. */
  ts: Date;
}

const KEY_LENGTH = 32;

/**
 * Keyed hashes for visitors (docs/metrics.md, "Visitor"). The raw IP and user id go in, only truncated
 * HMAC-SHA256 digests come out, so neither can be recovered from the database without the
 * VISITOR_SECRET. In `daily` mode the salt is derived from the secret and the UTC date of the
 * hit, recomputed in memory and never stored: the same person is a new visitor each UTC day.
 */
export class VisitorIdentity {
  private readonly dailySalts = new Map<string, string>();

  constructor(
    private readonly secret: string,
    private readonly mode: VisitorIdMode,
  ) {}

  visitorKey(input: VisitorIdentityInput): string {
    return this.digest(`${input.siteId}|${this.identity(input)}`);
  }

  /** The handle for erasing one identified user's data; never equal to a raw id. */
  userKey(siteId: string, userId: string): string {
    return this.digest(`user|${siteId}|u:${userId}`);
  }

  private identity(input: VisitorIdentityInput): string {
    if (input.userId !== undefined && input.userId !== '') return `u:${input.userId}`;
    switch (this.mode) {
      case 'ip':
        return `ip:${input.ip}`;
      case 'ip_ua':
        return `ip_ua:${input.ip}|${input.userAgent}`;
      case 'daily':
        return `daily:${input.ip}|${input.userAgent}|${this.dailySalt(input.ts)}`;
    }
  }

  private dailySalt(ts: Date): string {
    const day = ts.toISOString().slice(0, 10);
    let salt = this.dailySalts.get(day);
    if (salt === undefined) {
      salt = this.digest(`daily-salt|${day}`);
      // Backfills can touch many days; a few hundred salts are plenty to keep.
      if (this.dailySalts.size > 400) this.dailySalts.clear();
      this.dailySalts.set(day, salt);
    }
    return salt;
  }

  private digest(value: string): string {
    return createHmac('sha256', this.secret).update(value).digest('hex').slice(0, KEY_LENGTH);
  }
}
