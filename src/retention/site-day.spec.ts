import { describe, expect, it } from '@jest/globals';
import { parseDay, startOfDayIn } from './site-day.js';

describe('parseDay', () => {
  it('accepts padded and unpadded dates', () => {
    expect(parseDay('2024-03-05')).toEqual({ year: 2024, month: 3, day: 5 });
    expect(parseDay('2024-3-5')).toEqual({ year: 2024, month: 3, day: 5 });
  });

  it('rejects malformed and impossible dates', () => {
    expect(parseDay('2024-02-30')).toBeUndefined();
    expect(parseDay('2024-13-01')).toBeUndefined();
    expect(parseDay('yesterday')).toBeUndefined();
    expect(parseDay('2024-03-05T00:00:00Z')).toBeUndefined();
  });
});

describe('startOfDayIn', () => {
  it('is UTC midnight in UTC', () => {
    expect(startOfDayIn({ year: 2024, month: 3, day: 1 }, 'UTC').toISOString()).toBe('2024-03-01T00:00:00.000Z');
  });

  it('is local midnight east and west of UTC', () => {
    expect(startOfDayIn({ year: 2024, month: 3, day: 1 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-02-29T23:00:00.000Z',
    );
    expect(startOfDayIn({ year: 2024, month: 7, day: 1 }, 'America/New_York').toISOString()).toBe(
      '2024-07-01T04:00:00.000Z',
    );
  });

  it('follows the offset of the day itself around a DST change', () => {
    // Europe/Berlin moves to summer time on 2024-03-31 at 02:00; midnight that day is still CET.
    expect(startOfDayIn({ year: 2024, month: 3, day: 31 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-03-30T23:00:00.000Z',
    );
    expect(startOfDayIn({ year: 2024, month: 4, day: 1 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-03-31T22:00:00.000Z',
    );
  });
});
