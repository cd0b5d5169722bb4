/**
 * Calendar arithmetic in a site's IANA time zone without a date library: a calendar day is a
 * plain `{ year, month, day }`, and "midnight in zone Z" is found from the zone's UTC offset as
 * `Intl` reports it. Every day of the stats is a calendar day in the site's time zone.
 */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

const DATE_PATTERN = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;

/**
 * Parses `YYYY-MM-DD`, also unpadded (`2021-3-15`, as site-analytics scripts send it); undefined when invalid.
 * The rollup job parses days millions of times over a large batch, so the padded form is read
 * digit by digit; anything else takes the pattern.
 */
export function parseCalendarDate(text: string): CalendarDate | undefined {
  const padded = text.length === 10 && text.charCodeAt(4) === DASH && text.charCodeAt(7) === DASH;
  let [year, month, day] = padded
    ? [digits(text, 0, 4), digits(text, 5, 7), digits(text, 8, 10)]
    : [Number.NaN, Number.NaN, Number.NaN];
  if (Number.isNaN(year + month + day)) [year, month, day] = patternParts(text);
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month))) return undefined;
  return { year, month, day };
}

const DASH = 45;
const ZERO = 48;

/** The decimal number in `text[from, to)`, NaN unless all of it is ASCII digits. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let index = from; index < to; index++) {
    const digit = text.charCodeAt(index) - ZERO;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

function patternParts(text: string): [number, number, number] {
  const match = DATE_PATTERN.exec(text.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [Number.NaN, Number.NaN, Number.NaN];
}

export function formatCalendarDate({ year, month, day }: CalendarDate): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1];
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's `days_from_civil`
 * and `civil_from_days`): integer arithmetic, where going through `Date` allocated an object
 * per step of the rollup job's day arithmetic. `day` may overflow its month (`{ 1, 32 }` is
 * February 1st), as with `Date.UTC`.
 */
function dayNumber({ year, month, day }: CalendarDate): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function dateOfDayNumber(days: number): CalendarDate {
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return {
    year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0),
    month,
    day: dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1,
  };
}

export function addDays(date: CalendarDate, days: number): CalendarDate {
  return dateOfDayNumber(dayNumber(date) + days);
}

/** A `YYYY-MM-DD` day moved by `days` calendar days. */
export function shiftDay(day: string, days: number): string {
  const date = parseCalendarDate(day);
  if (!date) throw new Error(`not a day: ${day}`);
  return formatCalendarDate(addDays(date, days));
}

/** The `YYYY-MM-DD` days from `first` through `last`, in order. */
export function daysFrom(first: string, last: string): string[] {
  const days: string[] = [];
  for (let day = first; day <= last; day = shiftDay(day, 1)) days.push(day);
  return days;
}

export function addMonths(date: CalendarDate, months: number): CalendarDate {
  const index = date.year * 12 + (date.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return { year, month, day: Math.min(date.day, daysInMonth(year, month)) };
}

export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return (a.year - b.year) * 10000 + (a.month - b.month) * 100 + (a.day - b.day);
}

/** Whole days from `a` to `b` (b − a). */
export function daysBetween(a: CalendarDate, b: CalendarDate): number {
  return dayNumber(b) - dayNumber(a);
}

/** Monday of the ISO week containing `date` (weeks start on Monday, as in Plausible). */
export function startOfWeek(date: CalendarDate): CalendarDate {
  const days = dayNumber(date);
  // 1970-01-01 was a Thursday: days since the Monday before it, modulo a week.
  return dateOfDayNumber(days - ((((days + 3) % 7) + 7) % 7));
}

export function startOfMonth(date: CalendarDate): CalendarDate {
  return { year: date.year, month: date.month, day: 1 };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    partsFormatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface ZonedParts extends CalendarDate {
  hour: number;
  minute: number;
  second: number;
}

export function zonedParts(instant: Date, timeZone: string): ZonedParts {
  const ms = instant.getTime();
  if (!(ms >= 0)) return formattedParts(instant, timeZone);
  const offset = minuteOffset(Math.floor(ms / MINUTE_MS), timeZone);
  if (offset === undefined) return formattedParts(instant, timeZone);
  // Whole seconds, as the formatter gives them.
  const local = new Date(Math.floor(ms / 1000) * 1000 + offset);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
  };
}

function formattedParts(instant: Date, timeZone: string): ZonedParts {
  const parts: Record<string, number> = {};
  for (const part of partsFormatter(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year,
    month: parts.month,
    day: parts.day,
    hour: parts.hour,
    minute: parts.minute,
    second: parts.second,
  };
}

const MINUTE_MS = 60_000;
/** Enough minutes for a rollup batch's hits, spread over days, in a few zones. */
const OFFSET_CACHE_LIMIT = 50_000;
/** `zone minute` → the zone's UTC offset throughout that UTC minute (null: it changes inside it). */
const minuteOffsets = new Map<string, number | null>();

/**
 * The zone's offset from UTC during one UTC minute, in ms. Formatting dates is the costliest step
 * of rolling up a hit (a third of the rollup job's own time at 10^6 hits), and a batch's hits fall
 * on far fewer minutes than there are hits. A zone's offset changes only at transitions; the
 * offset is cached for the minute only when it is the same at the minute's first and last second,
 * so a transition inside a minute (historic local-mean-time offsets had seconds) is formatted
 * exactly, hit by hit.
 */
function minuteOffset(minute: number, timeZone: string): number | undefined {
  const key = `${timeZone} ${minute}`;
  let offset = minuteOffsets.get(key);
  if (offset === undefined) {
    const start = minute * MINUTE_MS;
    const atStart = offsetAt(start, timeZone);
    offset = atStart === offsetAt(start + MINUTE_MS - 1000, timeZone) ? atStart : null;
    if (minuteOffsets.size >= OFFSET_CACHE_LIMIT) minuteOffsets.clear();
    minuteOffsets.set(key, offset);
  }
  return offset ?? undefined;
}

function offsetAt(ms: number, timeZone: string): number {
  const p = formattedParts(new Date(ms), timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms;
}

/** The calendar day `instant` falls on in `timeZone`. */
export function zonedDate(instant: Date, timeZone: string): CalendarDate {
  const { year, month, day } = zonedParts(instant, timeZone);
  return { year, month, day };
}

function offsetMillis(instant: Date, timeZone: string): number {
  const p = zonedParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/**
 * The instant a calendar day begins in `timeZone`. Two passes of offset correction handle DST
 * transitions; on a day that begins inside a DST gap the first existing instant is returned.
 */
export function startOfZonedDay(date: CalendarDate, timeZone: string): Date {
  const naive = Date.UTC(date.year, date.month - 1, date.day);
  let guess = naive - offsetMillis(new Date(naive), timeZone);
  guess = naive - offsetMillis(new Date(guess), timeZone);
  const landed = zonedDate(new Date(guess), timeZone);
  if (compareDates(landed, date) < 0) {
    // Midnight does not exist (DST gap at 00:00): the day starts an hour later.
    guess += 3_600_000;
  }
  return new Date(guess);
}
