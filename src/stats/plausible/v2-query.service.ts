import { Injectable } from '@nestjs/common';
import {
  addDays,
  compareDates,
  daysBetween,
  formatCalendarDate,
  parseCalendarDate,
  zonedDate,
  type CalendarDate,
} from '../../common/time/calendar.js';
import { countryName } from '../../geo/country-name.js';
import type { Principal } from '../../auth/principal.js';
import { AnalyticsService, type QueryAnswer } from '../analytics.service.js';
import type { StatsQueryBodyDto } from '../dto/query-body.dto.js';
import { toInstantRange, type DayRange } from '../query/date-range.js';
import type { Interval } from '../query/stats-query.js';
import { StatsScopeService } from '../stats-scope.service.js';
import { StatsRepository } from '../stats.repository.js';
import { bucketLabels } from '../time/buckets.js';
import { v2MissingLabel, V2_REVENUE_METRICS, V2_TIME_DIMENSIONS } from './v2-names.js';
import { parseV2Request, type V2DateRange, type V2Request } from './v2-request.js';

export interface V2QueryResponse {
  results: Array<{ dimensions: Array<string | null>; metrics: Array<number | V2Revenue | null> }>;
  meta: Record<string, unknown>;
  query: Record<string, unknown>;
}

/** Above this many days, plain `time` groups by month; from 2 days on, by day; a single day, by hour. */
const DAILY_UP_TO_DAYS = 40;

/**
 * Plausible's Stats API v2 over Siteline's general query: the request is translated into a
 * `POST /api/v1/stats/query` body, answered by the same code (AnalyticsService.queryRows), and
 * the rows are put back into v2's shape. So the numbers are Siteline's, whatever the API.
 */
@Injectable()
export class V2QueryService {
  constructor(
    private readonly analytics: AnalyticsService,
    private readonly scope: StatsScopeService,
    private readonly repository: StatsRepository,
  ) {}

  async query(principal: Principal, body: unknown): Promise<V2QueryResponse> {
    const request = parseV2Request(body);
    const site = await this.scope.open(principal, request.siteId);
    const dateRange = await this.dateRange(request.dateRange, site.site.timezone, site.siteId);
    const interval = request.time === 'auto' ? autoInterval(dateRange) : request.time;
    const native: StatsQueryBodyDto = {
      siteId: site.site.id,
      metrics: request.metrics,
      dateRange: 'period' in dateRange ? { period: dateRange.period } : { from: dateRange.from, to: dateRange.to },
      dimensions: request.dimensions,
      filters: request.filters,
      ...(request.segment !== undefined ? { segment: request.segment } : {}),
      classification: 'USER',
      ...(interval ? { interval } : {}),
      ...(request.orderBy.length > 0 ? { orderBy: request.orderBy } : {}),
    };
    const answer = await this.analytics.queryRows(principal, native);
    return this.respond(request, answer, interval);
  }

  /** The days of a v2 date range, in the site's zone; Siteline's own periods are passed on as such. */
  private async dateRange(
    range: V2DateRange,
    timezone: string,
    siteId: Parameters<StatsRepository['findFirstHitTime']>[0],
  ): Promise<{ period: Extract<V2DateRange, { kind: 'period' }>['period'] } | { from: string; to: string }> {
    if (range.kind === 'period') return { period: range.period };
    if (range.kind === 'days') return { from: range.from, to: range.to };
    const today = zonedDate(this.scope.now(), timezone);
    let from: CalendarDate;
    if (range.name === '28d') from = addDays(today, -27);
    else if (range.name === '91d') from = addDays(today, -90);
    else if (range.name === 'year') from = { year: today.year, month: 1, day: 1 };
    else {
      // `all`: from the day of the site's first hit (Plausible: since the start of its stats).
      const first = await this.repository.findFirstHitTime(siteId);
      from = first ? zonedDate(first, timezone) : today;
      if (compareDates(from, today) > 0) from = today;
    }
    return { from: formatCalendarDate(from), to: formatCalendarDate(today) };
  }

  private respond(request: V2Request, answer: QueryAnswer, interval: Interval | undefined): V2QueryResponse {
    const { offset, limit } = request.pagination;
    const page = answer.rows.slice(offset, offset + limit);
    const sitelineByV2 = new Map<string, string>();
    let index = 0;
    for (const name of request.v2Dimensions) {
      if (!V2_TIME_DIMENSIONS[name]) sitelineByV2.set(name, request.dimensions[index++]);
    }
    const results = page.map((row) => ({
      dimensions: request.v2Dimensions.map((name) => {
        if (V2_TIME_DIMENSIONS[name]) return timeLabel(row.key.time ?? null, interval, answer.range);
        const value = row.key[sitelineByV2.get(name)!] ?? null;
        if (name === 'visit:country_name') return value === null ? null : countryName(value);
        return value ?? v2MissingLabel(name);
      }),
      metrics: request.metrics.map((metric, index) =>
        V2_REVENUE_METRICS.has(request.v2Metrics[index])
          ? v2Revenue(row.values[metric] ?? null, row.revenueCurrency ?? null)
          : (row.values[metric] ?? 0),
      ),
    }));
    const meta: Record<string, unknown> = {};
    if (request.include.imports) meta.imports_included = false;
    if (request.include.timeLabels && interval) {
      meta.time_labels = [
        ...new Set(
          bucketLabels(answer.range.from, answer.range.to, interval, answer.timezone).map((label) =>
            timeLabel(label, interval, answer.range),
          ),
        ),
      ];
    }
    if (request.include.totalRows) meta.total_rows = answer.rows.length;
    const instants = toInstantRange(answer.range, answer.timezone);
    return {
      results,
      meta,
      query: {
        site_id: request.siteId,
        metrics: request.v2Metrics,
        date_range: [instants.start.toISOString(), new Date(instants.end.getTime() - 1000).toISOString()],
        filters: request.echo.filters,
        dimensions: request.v2Dimensions,
        order_by: request.echo.orderBy ?? defaultOrder(request),
        include: request.echo.include,
        pagination: request.pagination,
      },
    };
  }
}

/** Plausible's revenue value: the amount with its currency, formatted short and long. */
export interface V2Revenue {
  short: string;
  long: string;
  value: number;
  currency: string;
}

function v2Revenue(value: number | null, currency: string | null): V2Revenue | null {
  if (value === null || currency === null) return null;
  const long = new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(value);
  const short = new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency,
    notation: 'compact',
    minimumFractionDigits: 0,
    maximumFractionDigits: 1,
  }).format(value);
  return { short, long, value, currency };
}

function autoInterval(range: { period: string } | { from: string; to: string }): Interval {
  if ('period' in range) {
    if (range.period === 'day') return 'hour';
    return range.period === '6mo' || range.period === '12mo' ? 'month' : 'day';
  }
  const from = parseCalendarDate(range.from);
  const to = parseCalendarDate(range.to);
  // Invalid days are refused by the query itself, with a 400 naming them.
  const length = from && to ? daysBetween(from, to) + 1 : 1;
  if (length <= 1) return 'hour';
  return length <= DAILY_UP_TO_DAYS ? 'day' : 'month';
}

/**
 * A Siteline bucket label in v2's form: hours as `YYYY-MM-DD HH:00:00`; a week that starts before
 * the range is labelled by the range's first day, as Plausible does.
 */
function timeLabel(label: string | null, interval: Interval | undefined, range: DayRange): string | null {
  if (label === null) return null;
  if (interval === 'hour') return `${label.replace('T', ' ')}:00`;
  if (interval === 'week') {
    const first = formatCalendarDate(range.from);
    return label < first ? first : label;
  }
  return label;
}

/** The order the rows come in when none is asked for, in v2's terms. */
function defaultOrder(request: V2Request): Array<[string, 'asc' | 'desc']> {
  const time = request.v2Dimensions.find((name) => V2_TIME_DIMENSIONS[name]);
  return [...(time ? [[time, 'asc'] as [string, 'asc']] : []), [request.v2Metrics[0], 'desc']];
}
