import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  addDays,
  addMonths,
  daysBetween,
  daysFrom,
  daysInMonth,
  formatCalendarDate,
  parseCalendarDate,
  shiftDay,
  startOfWeek,
  startOfZonedDay,
  zonedDate,
  zonedParts,
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

  /** The same arithmetic through `Date` (UTC), as these functions once did it. */
  const viaDate = (date: { year: number; month: number; day: number }, days = 0) => {
    const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
    return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
  };
  const anyDate = fc
    .integer({ min: Date.UTC(1600, 0, 1) / 86_400_000, max: Date.UTC(2400, 11, 31) / 86_400_000 })
    .map((days) => viaDate({ year: 1970, month: 1, day: 1 }, days));

  it('does day arithmetic as Date does, over eight centuries of leap years', () => {
    fc.assert(
      fc.property(anyDate, fc.integer({ min: -800, max: 800 }), (date, days) => {
        const monday = viaDate(date, -((new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7));
        expect({
          shifted: addDays(date, days),
          between: daysBetween(date, addDays(date, days)),
          monday: startOfWeek(date),
          monthDays: daysInMonth(date.year, date.month),
          parsed: parseCalendarDate(formatCalendarDate(date)),
          lastOfMonth: parseCalendarDate(formatCalendarDate({ ...date, day: daysInMonth(date.year, date.month) + 1 })),
        }).toEqual({
          shifted: viaDate(date, days),
          between: days,
          monday,
          monthDays: viaDate({ year: date.year, month: date.month + 1, day: 0 }).day,
          parsed: date,
          lastOfMonth: undefined,
        });
      }),
      { numRuns: 5_000 },
    );
  });

  it('parses a padded date with stray characters as the pattern does', () => {
    expect(parseCalendarDate('2021-03-1 ')).toEqual({ year: 2021, month: 3, day: 1 });
    expect(parseCalendarDate('2021-0a-01')).toBeUndefined();
    expect(parseCalendarDate('2021-00-01')).toBeUndefined();
    expect(parseCalendarDate('2021-01-00')).toBeUndefined();
  });
});

/** What the platform's time-zone data says the local wall clock reads at `instant`. */
const referenceFormatters = new Map<string, Intl.DateTimeFormat>();
function formatted(instant: Date, timeZone: string): Record<string, number> {
  const formatter =
    referenceFormatters.get(timeZone) ??
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  referenceFormatters.set(timeZone, formatter);
  const parts = formatter.formatToParts(instant);
  return Object.fromEntries(
    parts.filter((part) => part.type !== 'literal').map((part) => [part.type, Number(part.value)]),
  );
}

describe('zonedParts', () => {
  // Offsets are cached per zone and UTC minute: these are the instants where a cache could be wrong.
  const transitions: Array<[string, string]> = [
    ['Europe/Berlin', '2026-03-29T01:00:00Z'],
    ['Europe/Berlin', '2026-10-25T01:00:00Z'],
    ['America/New_York', '2026-03-08T07:00:00Z'],
    ['Australia/Lord_Howe', '2026-04-04T15:00:00Z'],
    ['America/Santiago', '2026-04-05T03:00:00Z'],
    // Local mean time (-0:44:30) to UTC, half-way through a UTC minute.
    ['Africa/Monrovia', '1972-01-07T00:44:30Z'],
  ];

  it('reads the wall clock of the zone data on every second around offset transitions', () => {
    for (const [zone, at] of transitions)
      for (let second = -150; second <= 150; second++) {
        const instant = new Date(Date.parse(at) + second * 1000 + 999);
        expect({ zone, instant, parts: zonedParts(instant, zone) }).toEqual({
          zone,
          instant,
          parts: formatted(instant, zone),
        });
      }
  });

  it('reads the wall clock of the zone data at random instants in every zone', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(1969, 0, 1), max: Date.UTC(2100, 0, 1) }),
        (zone, ms) => {
          const instant = new Date(ms);
          // The same minute twice: the second answer comes from the cache.
          expect(zonedParts(instant, zone)).toEqual(formatted(instant, zone));
          expect(zonedParts(new Date(ms + 1), zone)).toEqual(formatted(new Date(ms + 1), zone));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
