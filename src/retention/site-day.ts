/** `YYYY-MM-DD`; unpadded months and days (`2024-3-5`) are accepted as the stats endpoints accept them. */
const DATE_PATTERN = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;

/** Parses a calendar date; undefined when it is malformed or does not exist (2024-02-30). */
export function parseDay(text: string): { year: number; month: number; day: number } | undefined {
  const match = DATE_PATTERN.exec(text);
  if (!match) return undefined;
  const [year, month, day] = match.slice(1).map(Number);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day)
    return undefined;
  return { year, month, day };
}

/** Milliseconds the zone's wall clock is ahead of UTC at `instant`. */
function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const field = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((part) => part.type === type)?.value);
  const wall = Date.UTC(
    field('year'),
    field('month') - 1,
    field('day'),
    field('hour'),
    field('minute'),
    field('second'),
  );
  return wall - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a calendar day begins in an IANA time zone: purge "before 2024-03-01" for a site
 * in Europe/Berlin means before 2024-02-29T23:00:00Z, matching the days the stats show. The
 * second pass corrects for a DST change between UTC midnight and local midnight.
 */
export function startOfDayIn(day: { year: number; month: number; day: number }, timeZone: string): Date {
  const utcMidnight = Date.UTC(day.year, day.month - 1, day.day);
  let instant = utcMidnight - zoneOffsetMs(utcMidnight, timeZone);
  instant = utcMidnight - zoneOffsetMs(instant, timeZone);
  return new Date(instant);
}
