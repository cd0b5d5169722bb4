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

const HOUR_MS = 3_600_000;

/**
 * The local days (as UTC slices) that any instant of the closed spans falls on in `timezone`.
 * Every local day lasts at least 23 hours, so hourly steps (plus each span's end) meet them all.
 */
export function daySlicesOfSpans(spans: Array<{ from: Date; to: Date }>, timezone: string): DaySlice[] {
  const instants: Date[] = [];
  for (const { from, to } of spans) {
    for (let at = from.getTime(); at < to.getTime(); at += HOUR_MS) instants.push(new Date(at));
    instants.push(to);
  }
  return daySlicesOf(instants, timezone);
}

/** The union of slice lists, one slice per day, sorted. */
export function mergeDaySlices(...lists: DaySlice[][]): DaySlice[] {
  const days = new Map<string, DaySlice>();
  for (const slice of lists.flat()) days.set(slice.day, slice);
  return [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1));
}
