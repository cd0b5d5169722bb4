import { describe, expect, it } from '@jest/globals';
import { calculateObjectSize, serialize } from 'bson';
import { CursorManager } from '../src/cursors.js';
import { MAX_BSON_OBJECT_SIZE } from '../src/commands/handshake.js';

describe('cursor batches', () => {
  it('keep a getMore reply of many small documents under the BSON limit, array keys included', () => {
    // ~17 MB of 100-byte documents: their sizes alone stay under the cap long after the array's
    // per-element key and type bytes (~7 each) have pushed the reply past what bson can encode.
    const docs = Array.from({ length: 175_000 }, (_, i) => ({ _id: i, pad: 'x'.repeat(80) }));
    const cursors = new CursorManager();
    const first = cursors.open('db.items', docs, undefined);
    const id = first.id.toBigInt();
    let returned = first.docs.length;
    while (returned < docs.length) {
      const batch = cursors.getMore(id, 'db.items', undefined);
      const reply = { cursor: { nextBatch: batch.docs, id: batch.id, ns: 'db.items' }, ok: 1 };
      expect(calculateObjectSize(reply)).toBeLessThanOrEqual(MAX_BSON_OBJECT_SIZE);
      expect(() => serialize(reply)).not.toThrow();
      expect(batch.docs.length).toBeGreaterThan(0);
      returned += batch.docs.length;
    }
    expect(returned).toBe(docs.length);
  });
});
