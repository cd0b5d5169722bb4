import type { Interval } from '../query/stats-query.js';
import {
  addDays,
  addMonths,
  compareDates,
  formatCalendarDate,
  startOfMonth,
  startOfWeek,
  startOfZonedDay,
  zonedParts,
  type CalendarDate,
} from '../../common/time/calendar.js';

const HOUR_MS = 3_600_000;

/**
 * Every bucket label between two calendar days (inclusive) in the site's time zone, in order —
 * the same labels `bucketExpression` produces in the pipelines, so gaps can be filled with zeros.
 * Weeks are labelled by their Monday and months by their 1st, even when that lies before `from`.
 */
export function bucketLabels(from: CalendarDate, to: CalendarDate, interval: Interval, timezone: string): string[] {
  const labels: string[] = [];
  switch (interval) {
    case 'day':
      for (let day = from; compareDates(day, to) <= 0; day = addDays(day, 1)) labels.push(formatCalendarDate(day));
      return labels;
    case 'week':
      for (let week = startOfWeek(from); compareDates(week, to) <= 0; week = addDays(week, 7))
        labels.push(formatCalendarDate(week));
      return labels;
    case 'month':
      for (let month = startOfMonth(from); compareDates(month, to) <= 0; month = addMonths(month, 1)) {
        labels.push(formatCalendarDate(month));
      }
      return labels;
    case 'hour': {
      const end = startOfZonedDay(addDays(to, 1), timezone).getTime();
      for (let instant = startOfZonedDay(from, timezone).getTime(); instant < end; instant += HOUR_MS) {
        const label = hourLabel(new Date(instant), timezone);
        // The repeated hour when DST ends shares its label, as in the pipeline.
        if (labels[labels.length - 1] !== label) labels.push(label);
      }
      return labels;
    }
  }
}

function hourLabel(instant: Date, timezone: string): string {
  const parts = zonedParts(instant, timezone);
  return `${formatCalendarDate(parts)}T${String(parts.hour).padStart(2, '0')}:00`;
}
