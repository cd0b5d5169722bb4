import type { Types } from 'mongoose';
import type { DaySlice } from '../pipelines/rollup.pipeline.js';
import type { StatsRepository } from '../stats.repository.js';
import { daySlicesOfSpans } from './rollup-days.js';

/** Visit ids per lookup: keeps each `$in` small enough for an index to answer. */
const LOOKUP_CHUNK = 500;

/**
 * The local days whose visit-hour rows a site's hits received in `(after, until]` may have
 * changed. A hit at `ts` can only have extended, merged or created visits starting on the day its
 * visit starts now, or within the idle timeout either side of `ts` (a visit it merged started
 * after it by at most that much; one it joined from before starts where the merged visit does).
 * With `wholeVisits`, every day of those visits: the days whose attribution rows the hits may
 * have changed, as a hit that becomes a visit's first (or merges two) moves all its hits to the
 * visit's new values (a visit only grows, so its old days lie within its new span).
 * The caller must have had the site's hits sessionized first (`SessionsService.flush`).
 */
export async function pendingVisitDays(
  stats: StatsRepository,
  input: { siteId: Types.ObjectId; after: Date; until?: Date },
  idleMs: number,
  timezone: string,
  options: { wholeVisits: boolean } = { wholeVisits: false },
): Promise<DaySlice[]> {
  const spans = await stats.findPendingVisitSpans(input);
  const windows = spans.map((span) => ({
    from: new Date(span.firstTs.getTime() - idleMs),
    to: new Date(span.lastTs.getTime() + idleMs),
  }));
  const visitIds = spans.flatMap((span) => (span.visitId === null ? [] : [span.visitId]));
  for (let index = 0; index < visitIds.length; index += LOOKUP_CHUNK) {
    const visits = await stats.findVisitSpans(visitIds.slice(index, index + LOOKUP_CHUNK));
    windows.push(...visits.map(({ start, end }) => ({ from: start, to: options.wholeVisits ? end : start })));
  }
  return daySlicesOfSpans(windows, timezone);
}
