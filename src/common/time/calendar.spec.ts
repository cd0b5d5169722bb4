import { describe, expect, it } from '@jest/globals';
import {
  addMonths,
  daysFrom,
  parseCalendarDate,
  shiftDay,
  startOfWeek,
  startOfZonedDay,
  zonedDate,
} from './calendar.js';

describe('calendar', () => {
  it('parses padded and unpadded dates and refuses impossible ones', () => {
    expect(parseCalendarDate('2021-3-15')).toEqual({ year: 2021, month: 3, day: 15 });
    expect(parseCalendarDate('2024-02-29')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseCalendarDate('2023-02-29')).toBeUndefined();
    expect(parseCalendarDate('2024-13-01')).toBeUndefined();
    expect(parseCalendarDate('2024-02-10T00:00')).toBeUndefined();
    expect(parseCalendarDate('20240210')).toBeUndefined();
  });

  it('finds local midnight in zones east and west of UTC and across DST', () => {
    expect(startOfZonedDay({ year: 2024, month: 2, day: 10 }, 'America/New_York').toISOString()).toBe(
      '2024-02-10T05:00:00.000Z',
    );
    expect(startOfZonedDay({ year: 2024, month: 2, day: 10 }, 'Asia/Tokyo').toISOString()).toBe(
      '2024-02-09T15:00:00.000Z',
    );
    expect(startOfZonedDay({ year: 2024, month: 3, day: 11 }, 'America/New_York').toISOString()).toBe(
      '2024-03-11T04:00:00.000Z',
    );
    expect(startOfZonedDay({ year: 2024, month: 3, day: 31 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-03-30T23:00:00.000Z',
    );
    expect(startOfZonedDay({ year: 2024, month: 4, day: 1 }, 'Europe/Berlin').toISOString()).toBe(
      '2024-03-31T22:00:00.000Z',
    );
  });

  it('knows the local day of an instant', () => {
    expect(zonedDate(new Date('2024-02-11T04:50:00Z'), 'America/New_York')).toEqual({ year: 2024, month: 2, day: 10 });
  });

  it('moves and lists YYYY-MM-DD days across months, years and a leap day', () => {
    expect(shiftDay('2024-02-28', 1)).toBe('2024-02-29');
    expect(shiftDay('2024-03-01', -1)).toBe('2024-02-29');
    expect(shiftDay('2024-12-31', 1)).toBe('2025-01-01');
    expect(shiftDay('2025-01-06', -7)).toBe('2024-12-30');
    expect(daysFrom('2024-12-30', '2025-01-02')).toEqual(['2024-12-30', '2024-12-31', '2025-01-01', '2025-01-02']);
    expect(daysFrom('2025-01-02', '2025-01-01')).toEqual([]);
    expect(() => shiftDay('2025-02-30', 1)).toThrow('not a day');
  });

  it('clamps month arithmetic and finds Mondays', () => {
    expect(addMonths({ year: 2024, month: 1, day: 31 }, 1)).toEqual({ year: 2024, month: 2, day: 29 });
    expect(addMonths({ year: 2024, month: 1, day: 15 }, -2)).toEqual({ year: 2023, month: 11, day: 15 });
    expect(startOfWeek({ year: 2024, month: 2, day: 11 })).toEqual({ year: 2024, month: 2, day: 5 });
    expect(startOfWeek({ year: 2024, month: 2, day: 12 })).toEqual({ year: 2024, month: 2, day: 12 });
  });
});
