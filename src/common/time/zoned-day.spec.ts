import { describe, expect, it } from '@jest/globals';
import { parseCalendarDate, startOfZonedDay } from './calendar.js';

describe('parseCalendarDate', () => {
  it('accepts padded and unpadded dates', () => {
    expect(parseCalendarDate('2024-03-05')).toEqual({ year: 2024, month: 3, day: 5 });
    expect(parseCalendarDate('2024-3-5')).toEqual({ year: 2024, month: 3, day: 5 });
  });

  it('rejects malformed and impossible dates', () => {
    expect(parseCalendarDate('2024-02-30')).toBeUndefined();
    expect(parseCalendarDate('2024-13-01')).toBeUndefined();
    expect(parseCalendarDate('yesterday')).toBeUndefined();
    expect(parseCalendarDate('2024-03-05T00:00:00Z')).toBeUndefined();
  });
});

describe('startOfZonedDay', () => {
  it('is UTC midnight in UTC', () => {
    expect(startOfZonedDay({ year: 2024, month: 3, day: 1 }, 'UTC').toISOString()).toBe('2024-03-01T00:00:00.000Z');
  });

  it('is local midnight east and west of UTC', () => {
    expect(startOfZonedDay({ year: 2024, month: 3, day: 1 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-02-29T23:00:00.000Z',
    );
    expect(startOfZonedDay({ year: 2024, month: 7, day: 1 }, 'America/New_York').toISOString()).toBe(
      '2024-07-01T04:00:00.000Z',
    );
  });

  it('follows the offset of the day itself around a DST change', () => {
    // Europe/Berlin moves to summer time on 2024-03-31 at 02:00; midnight that day is still CET.
    expect(startOfZonedDay({ year: 2024, month: 3, day: 31 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-03-30T23:00:00.000Z',
    );
    expect(startOfZonedDay({ year: 2024, month: 4, day: 1 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-03-31T22:00:00.000Z',
    );
  });
});
