import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { widenToWholeVisits, type Span } from './visit-window.js';

const IDLE = 30;

/** The window reached by reading everything: the reference the batched reads must match. */
function widenWithEverything(start: Span, hitTimes: number[], visits: Array<{ start: number; end: number }>): Span {
  const everything = { from: -1e9, to: 1e9 };
  const result = widenToWholeVisits(start, { read: everything, hitTimes, visits }, IDLE);
  if (!result.settled) throw new Error('reading everything always settles');
  return result.window;
}

describe('widenToWholeVisits', () => {
  it('follows a chain of hits no more than the idle time apart on both sides, and stops at a longer gap', () => {
    const hits = [0, 30, 50, 200, 225, 255, 300];
    expect(widenWithEverything({ from: 225, to: 225 }, hits, [])).toEqual({ from: 200, to: 255 });
    expect(widenWithEverything({ from: 40, to: 40 }, hits, [])).toEqual({ from: 0, to: 50 });
  });

  it('absorbs a stored visit within the idle time even when its hits are gone', () => {
    expect(widenWithEverything({ from: 100, to: 100 }, [100], [{ start: 20, end: 75 }])).toEqual({ from: 20, to: 100 });
  });

  it('asks to read again around the window when the chain leaves what was read', () => {
    const result = widenToWholeVisits(
      { from: 100, to: 100 },
      { read: { from: 70, to: 130 }, hitTimes: [75, 100], visits: [] },
      IDLE,
    );
    expect(result).toEqual({ settled: false, window: { from: 75, to: 100 } });
  });

  it('reading again around each unsettled window reaches the window of reading everything (property)', () => {
    const times = fc.uniqueArray(fc.integer({ min: 0, max: 2000 }), { maxLength: 60 });
    fc.assert(
      fc.property(times, fc.integer({ min: 0, max: 2000 }), (unsorted, changed) => {
        const hits = [...unsorted, changed].sort((a, b) => a - b);
        const expected = widenWithEverything({ from: changed, to: changed }, hits, []);
        let window = { from: changed, to: changed };
        for (let round = 0; round < 200; round++) {
          const read = { from: window.from - IDLE, to: window.to + IDLE };
          const inRead = hits.filter((time) => time >= read.from && time <= read.to);
          const result = widenToWholeVisits(window, { read, hitTimes: inRead, visits: [] }, IDLE);
          if (result.settled) {
            expect(result.window).toEqual(expected);
            return;
          }
          window = result.window;
        }
        throw new Error('did not settle');
      }),
    );
  });
});
