import type { Document } from 'bson';
import type { Catalog } from './catalog.js';

/** Smallest representable date, so the scan starts before every stored date. */
const EARLIEST = new Date(-8.64e15);

/**
 * Deletes documents whose TTL-indexed date (the earliest, for arrays) is older than
 * `expireAfterSeconds`, like MongoDB's TTL monitor. Uses the index range, never a full scan.
 * Returns the number of documents removed.
 */
export function expireDocuments(catalog: Catalog, now = Date.now()): number {
  let removed = 0;
  for (const db of catalog.databaseNames()) {
    for (const collection of catalog.collections(db)) {
      for (const index of collection.indexes.values()) {
        const seconds = index.expireAfterSeconds;
        if (seconds === undefined || index.fields.length !== 1) continue;
        const cutoff = new Date(now - seconds * 1000);
        const [start, end] = index.directions[0] === 1 ? [[EARLIEST], [cutoff]] : [[cutoff], [EARLIEST]];
        const expired: Document[] = [];
        index.scan(start, index.directions[0] === 1, end, index.directions[0] !== 1, (entry) => {
          const doc = entry.key[0] instanceof Date ? entry.slot.doc : undefined;
          if (doc) expired.push(doc);
        });
        for (const doc of new Set(expired)) {
          collection.remove(doc);
          removed++;
        }
      }
    }
  }
  return removed;
}
