import { BadRequestException } from '@nestjs/common';
import {
  addDays,
  addMonths,
  compareDates,
  daysBetween,
  formatCalendarDate,
  parseCalendarDate,
  startOfMonth,
  startOfZonedDay,
  zonedDate,
  type CalendarDate,
} from '../../common/time/calendar.js';

/** An inclusive range of calendar days in the site's time zone. */
export interface DayRange {
  from: CalendarDate;
  to: CalendarDate;
}

export const PERIODS = ['day', '7d', '30d', 'month', '6mo', '12mo'] as const;
export type Period = (typeof PERIODS)[number];

const MAX_RANGE_MONTHS = 120;

/**
 * Parses an explicit inclusive day range; every 400 names the parameter at fault. Ranges longer
 * than ten years are refused: they are never what a caller meant and would scan everything.
 */
export function parseDayRange(fromText: string, toText: string, names: { from: string; to: string }): DayRange {
  const from = parseCalendarDate(fromText);
  if (!from) throw new BadRequestException(`${names.from} must be a valid date as YYYY-MM-DD`);
  const to = parseCalendarDate(toText);
  if (!to) throw new BadRequestException(`${names.to} must be a valid date as YYYY-MM-DD`);
  if (compareDates(from, to) > 0) throw new BadRequestException(`${names.from} must not be after ${names.to}`);
  if (compareDates(to, addDays(addMonths(from, MAX_RANGE_MONTHS), -1)) > 0) {
    throw new BadRequestException(`${names.to} must be at most 10 years after ${names.from}`);
  }
  return { from, to };
}

/**
 * A relative period ending today in the site's time zone (Plausible's definitions, which
 * include today): `day` = today; `7d`/`30d` = the last 7/30 days including today; `month` =
 * the current calendar month up to today; `6mo`/`12mo` = the current month and the 5/11 before
 * it, up to today.
 */
export function periodRange(period: Period, now: Date, timezone: string): DayRange {
  const today = zonedDate(now, timezone);
  switch (period) {
    case 'day':
      return { from: today, to: today };
    case '7d':
      return { from: addDays(today, -6), to: today };
    case '30d':
      return { from: addDays(today, -29), to: today };
    case 'month':
      return { from: startOfMonth(today), to: today };
    case '6mo':
      return { from: addMonths(startOfMonth(today), -5), to: today };
    case '12mo':
      return { from: addMonths(startOfMonth(today), -11), to: today };
  }
}

/** The comparison range: as many days, ending the day before `range` starts. */
export function previousRange(range: DayRange): DayRange {
  const length = daysBetween(range.from, range.to) + 1;
  return { from: addDays(range.from, -length), to: addDays(range.from, -1) };
}

/** `[start, end)` in UTC: from the first instant of `from` to the first instant after `to`, in the zone. */
export function toInstantRange(range: DayRange, timezone: string): { start: Date; end: Date } {
  return { start: startOfZonedDay(range.from, timezone), end: startOfZonedDay(addDays(range.to, 1), timezone) };
}

export function formatDayRange(range: DayRange): { from: string; to: string } {
  return { from: formatCalendarDate(range.from), to: formatCalendarDate(range.to) };
}
