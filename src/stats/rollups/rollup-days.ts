import {
  addDays,
  formatCalendarDate,
  parseCalendarDate,
  startOfZonedDay,
  zonedDate,
} from '../../common/time/calendar.js';
import type { DaySlice } from '../pipelines/rollup.pipeline.js';

/** The local days (as UTC slices) that 15-minute UTC buckets fall on in `timezone`. */
export function daySlicesOf(buckets: Date[], timezone: string): DaySlice[] {
  const days = new Map<string, DaySlice>();
  for (const bucket of buckets) {
    const date = zonedDate(bucket, timezone);
    const day = formatCalendarDate(date);
    if (!days.has(day))
      days.set(day, { day, start: startOfZonedDay(date, timezone), end: startOfZonedDay(addDays(date, 1), timezone) });
  }
  return [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1));
}

/** The slice of one `YYYY-MM-DD` day in `timezone`. */
export function daySlice(day: string, timezone: string): DaySlice {
  const date = parseCalendarDate(day);
  if (!date) throw new Error(`not a day: ${day}`);
  return { day, start: startOfZonedDay(date, timezone), end: startOfZonedDay(addDays(date, 1), timezone) };
}
