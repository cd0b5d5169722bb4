import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { RowDeltas, rowId, type RowDelta } from './batch-deltas.js';

/**
 * RowDeltas looks a key up by its JSON before making its sorted row text. This pins it to the
 * plain form it replaced (one delta per row text, in the order first met): the same rows, _ids,
 * sums and order, for keys built in any field order with null values.
 */
const sites = [new Types.ObjectId(), new Types.ObjectId()];
const field = fc.constantFrom('day', 'set', 'visitorKey', 'path', 'countryCode');
const value = fc.constantFrom<unknown>(null, '', 'a', 'b', '2024-05-01', 0);
const key = fc
  .record({
    siteId: fc.constantFrom(...sites),
    values: fc.dictionary(field, value, { maxKeys: 5 }),
  })
  .map(({ siteId, values }) => ({ siteId, ...values }));
/** Keys met in a batch: a few rows' keys, each met several times with its fields in random orders. */
const batchKeys = fc
  .tuple(
    fc.array(key, { minLength: 1, maxLength: 4 }),
    fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(), { minLength: 6, maxLength: 6 })), { maxLength: 30 }),
  )
  .map(([pool, meetings]) =>
    meetings.map(([which, ranks]) =>
      Object.fromEntries(
        Object.entries(pool[which % pool.length])
          .map(([name, fieldValue], index) => ({ name, fieldValue, rank: ranks[index] }))
          .sort((a, b) => a.rank - b.rank)
          .map(({ name, fieldValue }) => [name, fieldValue]),
      ),
    ),
  );

function referenceRows(keys: ReadonlyArray<Record<string, unknown>>): RowDelta[] {
  const rows = new Map<string, RowDelta>();
  for (const built of keys) {
    const text = JSON.stringify(
      Object.keys(built)
        .sort()
        .map((name) => [name, built[name]]),
    );
    const row = rows.get(text) ?? { _id: rowId(built), key: built, inc: { events: 0 } };
    rows.set(text, row);
    row.inc.events += 1;
  }
  return [...rows.values()];
}

describe('RowDeltas', () => {
  it('holds one delta per row, whatever the order of its key fields, as the sorted text alone did', () => {
    fc.assert(
      fc.property(batchKeys, (keys) => {
        const deltas = new RowDeltas();
        for (const built of keys)
          deltas.deltaOf(built, (id) => ({ _id: id, key: built, inc: { events: 0 } })).inc.events += 1;
        const rows = deltas.rows();
        const reference = referenceRows(keys);
        expect(rows.map((row) => [row._id.toString('hex'), row.key, row.inc])).toEqual(
          reference.map((row) => [row._id.toString('hex'), row.key, row.inc]),
        );
      }),
    );
  });
});
