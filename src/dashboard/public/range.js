// Date ranges as the stats API takes them. Days are calendar days in the site's timezone, so
// "today" for the custom-range defaults is computed there, not in the browser's timezone.
const DAY_MS = 24 * 60 * 60 * 1000;

export const PRESET_RANGES = ['day', '7d', '30d', 'month'];

/** `{ period }` for a preset, `{ from, to }` for a custom range. */
export function rangeParams(range) {
  return range.kind === 'custom' ? { from: range.from, to: range.to } : { period: range.kind };
}

/** Hours for a single day, days up to about a quarter, months beyond (like Plausible). */
export function chartInterval(range) {
  if (range.kind === 'day') return 'hour';
  if (range.kind !== 'custom') return 'day';
  const days = (Date.parse(range.to) - Date.parse(range.from)) / DAY_MS + 1;
  if (days <= 1) return 'hour';
  return days <= 92 ? 'day' : 'month';
}

export function todayIn(timezone) {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date());
}

export function shiftDays(isoDate, days) {
  return new Date(Date.parse(isoDate) + days * DAY_MS).toISOString().slice(0, 10);
}

/** A message naming what is wrong with a custom range, or null when it can be queried. */
export function customRangeProblem(from, to) {
  if (!from || !to) return 'Choose both a start and an end date.';
  if (from > to) return 'The start date must not be after the end date.';
  return null;
}
