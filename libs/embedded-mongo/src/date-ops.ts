import type { Document } from 'bson';
import { evalExpr } from 'mingo/core';
import type { Options } from 'mingo/types';
import { CommandError } from './errors.js';
import { isPlainObject } from './paths.js';

/**
 * Timezone-correct replacements for mingo's date operators. mingo 7.2 only accepts
 * two-part IANA names (no `UTC`, `GMT` or `America/Argentina/Buenos_Aires`), uses the offset
 * of *now* in $dateFromParts and ignores the timezone in $dateTrunc. These use Intl and the
 * offset in force at the instant being converted, as MongoDB does.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const REFERENCE = Date.UTC(2000, 0, 1);
const FIXED_OFFSET = /^([+-])(\d{2}):?(\d{2})?$/;
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new CommandError('Location40485', `unrecognized time zone identifier: "${timezone}"`);
    }
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** Minutes to add to UTC to get local wall-clock time in `timezone` at instant `utc`. */
export function offsetMinutes(timezone: unknown, utc: number): number {
  if (timezone === undefined || timezone === null) return 0;
  if (typeof timezone !== 'string') throw new CommandError('Location40485', 'timezone must evaluate to a string');
  if (timezone === 'Z') return 0;
  const fixed = FIXED_OFFSET.exec(timezone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0));
  // Offsets only change on quarter-hour boundaries, so cache per zone and quarter hour.
  const cacheKey = `${timezone}@${Math.floor(utc / (15 * MINUTE))}`;
  const cached = offsetCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(utc))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  const offset = Math.round((wall - Math.floor(utc / 1000) * 1000) / MINUTE);
  if (offsetCache.size > 100_000) offsetCache.clear();
  offsetCache.set(cacheKey, offset);
  return offset;
}

/** Local wall-clock milliseconds (expressed as a UTC timestamp) for an instant. */
function toLocal(date: Date, timezone: unknown): number {
  return date.getTime() + offsetMinutes(timezone, date.getTime()) * MINUTE;
}

/** Inverse of toLocal; the second pass picks the offset in force at the resulting instant. */
function fromLocal(local: number, timezone: unknown): number {
  const guess = local - offsetMinutes(timezone, local) * MINUTE;
  return local - offsetMinutes(timezone, guess) * MINUTE;
}

function utcFromParts(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const date = new Date(Date.UTC(2000, 0, 1));
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

function dayOfYear(local: Date): number {
  return Math.floor((local.getTime() - Date.UTC(local.getUTCFullYear(), 0, 1)) / DAY) + 1;
}

function isoDayOfWeek(local: Date): number {
  return local.getUTCDay() === 0 ? 7 : local.getUTCDay();
}

function isoWeekAndYear(local: Date): { week: number; year: number } {
  const thursday = new Date(local.getTime() + (4 - isoDayOfWeek(local)) * DAY);
  const year = thursday.getUTCFullYear();
  return { week: Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY / 7) + 1, year };
}

function sundayWeek(local: Date): number {
  return Math.floor((dayOfYear(local) + 6 - local.getUTCDay()) / 7);
}

const pad = (value: number, width: number): string => String(Math.abs(value)).padStart(width, '0');

function formatOffset(minutes: number): string {
  return `${minutes < 0 ? '-' : '+'}${pad(Math.trunc(minutes / 60), 2)}${pad(minutes % 60, 2)}`;
}

function formatDate(date: Date, format: string, timezone: unknown): string {
  const offset = offsetMinutes(timezone, date.getTime());
  const local = new Date(date.getTime() + offset * MINUTE);
  return format.replace(/%./g, (token) => {
    switch (token) {
      case '%Y':
        return pad(local.getUTCFullYear(), 4);
      case '%m':
        return pad(local.getUTCMonth() + 1, 2);
      case '%d':
        return pad(local.getUTCDate(), 2);
      case '%H':
        return pad(local.getUTCHours(), 2);
      case '%M':
        return pad(local.getUTCMinutes(), 2);
      case '%S':
        return pad(local.getUTCSeconds(), 2);
      case '%L':
        return pad(local.getUTCMilliseconds(), 3);
      case '%j':
        return pad(dayOfYear(local), 3);
      case '%w':
        return String(local.getUTCDay() + 1);
      case '%u':
        return String(isoDayOfWeek(local));
      case '%U':
        return pad(sundayWeek(local), 2);
      case '%V':
        return pad(isoWeekAndYear(local).week, 2);
      case '%G':
        return pad(isoWeekAndYear(local).year, 4);
      case '%z':
        return formatOffset(offset);
      case '%Z':
        return `${offset < 0 ? '-' : '+'}${pad(offset, 3)}`;
      case '%b':
        return MONTHS[local.getUTCMonth()].slice(0, 3);
      case '%B':
        return MONTHS[local.getUTCMonth()];
      case '%%':
        return '%';
      default:
        throw new CommandError('Location40485', `Invalid format character '${token}' in format string`);
    }
  });
}

function truncate(date: Date, unit: string, binSize: number, timezone: unknown, startOfWeek: string): Date {
  const local = toLocal(date, timezone);
  const binned = (size: number): number => local - ((((local - REFERENCE) % size) + size) % size);
  switch (unit) {
    case 'millisecond':
      return new Date(binned(binSize));
    case 'second':
      return new Date(fromLocal(binned(binSize * 1000), timezone));
    case 'minute':
      return new Date(fromLocal(binned(binSize * MINUTE), timezone));
    case 'hour':
      return new Date(fromLocal(binned(binSize * 60 * MINUTE), timezone));
    case 'day':
      return new Date(fromLocal(binned(binSize * DAY), timezone));
    case 'week': {
      const target = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].indexOf(startOfWeek.slice(0, 3).toLowerCase());
      if (target < 0) throw new CommandError('BadValue', `unknown startOfWeek: ${startOfWeek}`);
      const reference = REFERENCE + ((target - 6 + 7) % 7) * DAY;
      const size = binSize * 7 * DAY;
      return new Date(fromLocal(local - ((((local - reference) % size) + size) % size), timezone));
    }
    case 'month':
    case 'quarter':
    case 'year': {
      const localDate = new Date(local);
      const months = (localDate.getUTCFullYear() - 2000) * 12 + localDate.getUTCMonth();
      const size = binSize * (unit === 'month' ? 1 : unit === 'quarter' ? 3 : 12);
      const start = months - (((months % size) + size) % size);
      return new Date(fromLocal(Date.UTC(2000, start, 1), timezone));
    }
    default:
      throw new CommandError('BadValue', `$dateTrunc: unknown unit '${unit}'`);
  }
}

type DateArgs = { date: unknown; timezone?: unknown };

/** Date-part operators accept `<date>`, `[<date>]` or `{ date, timezone }`. */
function dateArgs(obj: unknown, expr: unknown, options: Options): DateArgs {
  const value = evalExpr(obj, expr, options) as unknown;
  if (Array.isArray(value)) return { date: value[0] };
  if (isPlainObject(value) && 'date' in value) return value as DateArgs;
  return { date: value };
}

function localParts(obj: unknown, expr: unknown, options: Options): Date | null {
  const { date, timezone } = dateArgs(obj, expr, options);
  if (date === null || date === undefined) return null;
  const instant = asDate(date, 'date');
  return new Date(toLocal(instant, timezone));
}

function asDate(value: unknown, name: string): Date {
  if (value instanceof Date) return value;
  const tagged = value as { _bsontype?: string; getTimestamp?: () => Date };
  if (tagged?._bsontype === 'ObjectId' && tagged.getTimestamp) return tagged.getTimestamp();
  throw new CommandError('BadValue', `can't convert from BSON type ${typeof value} to Date (${name})`);
}

type ExprOperator = (obj: unknown, expr: unknown, options: Options) => unknown;

const part =
  (read: (local: Date) => number): ExprOperator =>
  (obj, expr, options) => {
    const local = localParts(obj, expr, options);
    return local === null ? null : read(local);
  };

export const dateOperators: Record<string, ExprOperator> = {
  $year: part((d) => d.getUTCFullYear()),
  $month: part((d) => d.getUTCMonth() + 1),
  $dayOfMonth: part((d) => d.getUTCDate()),
  $hour: part((d) => d.getUTCHours()),
  $minute: part((d) => d.getUTCMinutes()),
  $second: part((d) => d.getUTCSeconds()),
  $millisecond: part((d) => d.getUTCMilliseconds()),
  $dayOfWeek: part((d) => d.getUTCDay() + 1),
  $isoDayOfWeek: part(isoDayOfWeek),
  $dayOfYear: part(dayOfYear),
  $week: part(sundayWeek),
  $isoWeek: part((d) => isoWeekAndYear(d).week),
  $isoWeekYear: part((d) => isoWeekAndYear(d).year),

  $dateToString(obj, expr, options) {
    const args = evalExpr(obj, expr, options) as Document;
    if (args.date === null || args.date === undefined) return 'onNull' in args ? args.onNull : null;
    const format = typeof args.format === 'string' ? args.format : '%Y-%m-%dT%H:%M:%S.%LZ';
    return formatDate(asDate(args.date, '$dateToString'), format, args.timezone);
  },

  $dateTrunc(obj, expr, options) {
    const args = evalExpr(obj, expr, options) as Document;
    if (args.date === null || args.date === undefined || args.unit === null || args.unit === undefined) return null;
    const binSize = args.binSize === undefined ? 1 : Number(args.binSize);
    if (!(binSize > 0)) throw new CommandError('BadValue', "$dateTrunc requires 'binSize' to be greater than 0");
    return truncate(
      asDate(args.date, '$dateTrunc'),
      String(args.unit),
      binSize,
      args.timezone,
      String(args.startOfWeek ?? 'sunday'),
    );
  },

  $dateFromParts(obj, expr, options) {
    const args = evalExpr(obj, expr, options) as Document;
    const num = (value: unknown, fallback: number): number => (value === undefined ? fallback : Number(value));
    const time = [num(args.hour, 0), num(args.minute, 0), num(args.second, 0), num(args.millisecond, 0)] as const;
    let local: number;
    if (args.isoWeekYear !== undefined) {
      const jan4 = utcFromParts(Number(args.isoWeekYear), 1, 4);
      const week1Monday = jan4 - (isoDayOfWeek(new Date(jan4)) - 1) * DAY;
      const days = (num(args.isoWeek, 1) - 1) * 7 + (num(args.isoDayOfWeek, 1) - 1);
      const monday = new Date(week1Monday + days * DAY);
      local = utcFromParts(monday.getUTCFullYear(), monday.getUTCMonth() + 1, monday.getUTCDate(), ...time);
    } else {
      if (args.year === null || args.year === undefined) return null;
      local = utcFromParts(Number(args.year), num(args.month, 1), num(args.day, 1), ...time);
    }
    return new Date(fromLocal(local, args.timezone));
  },

  $dateToParts(obj, expr, options) {
    const args = evalExpr(obj, expr, options) as Document;
    if (args.date === null || args.date === undefined) return null;
    const local = new Date(toLocal(asDate(args.date, '$dateToParts'), args.timezone));
    const time = {
      hour: local.getUTCHours(),
      minute: local.getUTCMinutes(),
      second: local.getUTCSeconds(),
      millisecond: local.getUTCMilliseconds(),
    };
    if (args.iso8601 === true) {
      const { week, year } = isoWeekAndYear(local);
      return { isoWeekYear: year, isoWeek: week, isoDayOfWeek: isoDayOfWeek(local), ...time };
    }
    return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate(), ...time };
  },
};
