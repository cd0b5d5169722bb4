import { describe, expect, it } from '@jest/globals';
import { DUPLICATE_KEY_CODE } from './database-errors.js';
import { bulkWriteInSlices, SLICE, slicesOf } from './slices.js';

/** A collection that records each bulk write's size and fails the ones `fail` says. */
function recordingCollection(fail: (call: number) => unknown = () => undefined) {
  const sizes: number[] = [];
  return {
    sizes,
    bulkWrite(operations: number[]): Promise<unknown> {
      sizes.push(operations.length);
      const error = fail(sizes.length);
      return error ? Promise.reject(error) : Promise.resolve({});
    },
  };
}

const duplicate = Object.assign(new Error('E11000'), { writeErrors: [{ index: 3, code: DUPLICATE_KEY_CODE }] });
const other = Object.assign(new Error('write failed'), { writeErrors: [{ index: 3, code: 2 }] });

describe('slicesOf', () => {
  it('gives every item once, in order, in slices, letting due timers run between them', async () => {
    const items = Array.from({ length: 2 * SLICE + 5 }, (_, index) => index);
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const seen: number[] = [];
    const firedAtSlice: boolean[] = [];
    for await (const slice of slicesOf(items)) {
      firedAtSlice.push(fired);
      seen.push(...slice);
      // Busy long enough for the timer to be due at the next turn of the loop.
      const until = performance.now() + 3;
      while (performance.now() < until);
    }
    expect(seen).toEqual(items);
    expect(firedAtSlice[0]).toBe(false);
    expect(firedAtSlice).toHaveLength(3);
    expect(firedAtSlice[2]).toBe(true);
  });
});

describe('bulkWriteInSlices', () => {
  const operations = Array.from({ length: 2 * SLICE + 1 }, (_, index) => index);

  it('sends every operation, in slices', async () => {
    const collection = recordingCollection();
    await bulkWriteInSlices(collection, operations);
    expect(collection.sizes).toEqual([SLICE, SLICE, 1]);
    await bulkWriteInSlices(collection, []);
    expect(collection.sizes).toHaveLength(3);
  });

  it('takes duplicate keys as applied only when told to, and stops at any other error', async () => {
    const duplicates = recordingCollection((call) => (call === 1 ? duplicate : undefined));
    await bulkWriteInSlices(duplicates, operations, { duplicatesApplied: true });
    expect(duplicates.sizes).toEqual([SLICE, SLICE, 1]);
    await expect(
      bulkWriteInSlices(
        recordingCollection(() => duplicate),
        operations,
      ),
    ).rejects.toBe(duplicate);
    const failing = recordingCollection((call) => (call === 2 ? other : undefined));
    await expect(bulkWriteInSlices(failing, operations, { duplicatesApplied: true })).rejects.toBe(other);
    expect(failing.sizes).toEqual([SLICE, SLICE]);
  });
});
