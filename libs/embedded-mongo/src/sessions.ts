import { createHash } from 'node:crypto';
import { Binary, type Document } from 'bson';

/** MongoDB's `logicalSessionTimeoutMinutes`, which `hello` reports too. */
const SESSION_TIMEOUT_MS = 30 * 60 * 1000;

/** The `uid` of a session without authentication: SHA-256 of the empty user name. */
const NO_USER_UID = new Binary(createHash('sha256').update('').digest());

/**
 * The logical sessions (`lsid`) commands arrived with, and when each was last used: what
 * MongoDB's session cache holds and `$listLocalSessions` lists. A session leaves when it is
 * ended (`endSessions`) or idle longer than the session timeout.
 */
export class SessionRegistry {
  private readonly lastUse = new Map<string, { id: unknown; at: Date }>();

  touch(lsid: unknown): void {
    const id = (lsid as { id?: unknown } | null)?.id;
    if (!(id instanceof Binary)) return;
    const now = new Date();
    this.lastUse.delete(id.toString('hex'));
    this.lastUse.set(id.toString('hex'), { id, at: now });
    this.expire(now.getTime());
  }

  end(lsids: unknown): void {
    if (!Array.isArray(lsids)) return;
    for (const lsid of lsids) {
      const id = (lsid as { id?: unknown } | null)?.id;
      if (id instanceof Binary) this.lastUse.delete(id.toString('hex'));
    }
  }

  list(): Document[] {
    this.expire(Date.now());
    return [...this.lastUse.values()].map(({ id, at }) => ({ _id: { id, uid: NO_USER_UID }, lastUse: at }));
  }

  /** Entries are kept in order of last use, so the idle ones are at the front. */
  private expire(now: number): void {
    for (const [key, { at }] of this.lastUse) {
      if (now - at.getTime() <= SESSION_TIMEOUT_MS) break;
      this.lastUse.delete(key);
    }
  }
}
