import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { ApiServiceUnavailableResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../auth/dto/error-response.dto.js';
import { serviceUnavailable } from '../common/errors/service-unavailable.js';
import { Types } from 'mongoose';
import { SiteAccessService } from '../auth/site-access.service.js';
import type { Principal } from '../auth/principal.js';
import { Clock } from '../common/time/clock.js';
import { trackingConfig, type TrackingConfig } from '../config/configuration.js';
import { SegmentsService } from '../segments/segments.service.js';
import { SessionsService, VisitsPendingError } from '../sessions/sessions.service.js';
import type { SiteView } from '../sites/site-view.js';
import type { StatsMetaDto } from './dto/analytics-response.dto.js';
import {
  formatDayRange,
  parseDayRange,
  periodRange,
  toInstantRange,
  type DayRange,
  type Period,
} from './query/date-range.js';
import type { ClassificationFilter, Interval, StatsQuery, Filter } from './query/stats-query.js';
import type { QueryDimension } from './query/dimensions.js';
import { GOAL_DIMENSION } from './query/goal-query.js';
import { combineReadFilters, type ReadFilters } from './query/parse-filters.js';

export interface ReadScope {
  site: SiteView;
  siteId: Types.ObjectId;
}

export interface RangeInput {
  from?: string;
  to?: string;
  period?: Period;
}

export interface ResolvedRange {
  range: DayRange;
  period?: Period;
}

const DEFAULT_PERIOD: Period = '30d';
/** How long a stats read waits for the sessionizer: below the usual 30 s client timeout. */
export const READ_FLUSH_TIMEOUT_MS = 20_000;
/**
 * A read facing a larger sessionizer backlog than this answers 503 at once. One read works off
 * about 500 visitors a second here (the 10^6-hit bench's backlog of 252,681 visitors took
 * 562 s), so more would not be done within READ_FLUSH_TIMEOUT_MS anyway; trying cost every such
 * read a snapshot of the whole backlog, seconds of the event loop after a bulk load.
 */
export const READ_BACKLOG_LIMIT = 10_000;
const READ_RETRY_AFTER_SECONDS = 5;

/** The 503 every stats read may answer (see `StatsScopeService.open`), for the OpenAPI spec. */
export const ApiVisitsPendingResponse = () =>
  ApiServiceUnavailableResponse({
    type: ErrorResponseDto,
    description:
      'Visits of recently ingested hits are still being computed, or the answer is taking most of the HTTP timeout (a backlog after a bulk load); retry after `Retry-After` seconds',
  });

/**
 * What every read endpoint does before aggregating: find the site the caller may read (see
 * SiteAccessService), make sure every acknowledged hit is sessionized, turn range parameters into
 * calendar days of the site's zone, and describe the definitions applied (`meta`).
 */
@Injectable()
export class StatsScopeService {
  constructor(
    private readonly access: SiteAccessService,
    private readonly sessions: SessionsService,
    private readonly clock: Clock,
    private readonly segments: SegmentsService,
    @Inject(trackingConfig.KEY) private readonly tracking: TrackingConfig,
  ) {}

  /**
   * Resolves the readable site and waits until its visits include every acknowledged hit. When
   * that takes longer than `READ_FLUSH_TIMEOUT_MS` (a sessionizer backlog after a bulk load),
   * answers 503 + Retry-After rather than numbers that silently miss visits, or a client timeout.
   */
  async open(principal: Principal, siteRef: string | undefined): Promise<ReadScope> {
    const site = await this.access.resolveReadableSite(principal, siteRef);
    try {
      await this.sessions.flush(site.id, 1, READ_FLUSH_TIMEOUT_MS, READ_BACKLOG_LIMIT);
    } catch (error) {
      if (!(error instanceof VisitsPendingError)) throw error;
      throw serviceUnavailable(
        `Visits of recently ingested hits are still being computed (${error.atLeast ? 'more than ' : ''}${error.pendingVisitors} visitors); retry shortly`,
        READ_RETRY_AFTER_SECONDS,
      );
    }
    return { site, siteId: new Types.ObjectId(site.id) };
  }

  /**
   * The filters a read applies: a saved segment's (named by id in `parameter`; 400/404 naming it
   * when it is no segment of this site), ANDed with the request's own. Every read endpoint that
   * takes filters goes through here, so a segment means the same on all of them. Reads that are
   * no goal query name themselves in `goalQueryRefusedBy`: a goal-name filter, the request's or
   * the segment's, is then a 400 saying where goal queries are answered.
   */
  async withSegment(
    scope: ReadScope,
    segmentId: string | undefined,
    filters: ReadFilters,
    options: { parameter?: string; goalQueryRefusedBy?: string } = {},
  ): Promise<ReadFilters> {
    const parameter = options.parameter ?? 'segment';
    const refuse = (whose: string) => {
      throw new BadRequestException(
        `${whose} a goal filter (["is" | "contains", "goal", names]), which makes a goal query: ` +
          `${options.goalQueryRefusedBy} answers none; POST /api/v1/stats/query and POST /api/v2/query do`,
      );
    };
    if (options.goalQueryRefusedBy && filters.goalNames.length > 0) refuse('filters hold');
    if (segmentId === undefined) return filters;
    const segment = await this.segments.filtersOf(scope.site, segmentId.trim(), parameter);
    if (options.goalQueryRefusedBy && segment.goalNames.length > 0)
      refuse(`${parameter}: segment ${segmentId.trim()} holds`);
    return combineReadFilters(segment, filters);
  }

  now(): Date {
    return this.clock.now();
  }

  /** `from`+`to` or `period`; with neither, the last 30 days. Parameter names appear in 400s. */
  resolveRange(
    input: RangeInput,
    timezone: string,
    names = { from: 'from', to: 'to', period: 'period' },
  ): ResolvedRange {
    const hasExplicit = input.from !== undefined || input.to !== undefined;
    if (hasExplicit && input.period !== undefined) {
      throw new BadRequestException(`${names.period} cannot be combined with ${names.from}/${names.to}`);
    }
    if (hasExplicit) {
      if (input.from === undefined) throw new BadRequestException(`${names.from} is required with ${names.to}`);
      if (input.to === undefined) throw new BadRequestException(`${names.to} is required with ${names.from}`);
      return { range: parseDayRange(input.from, input.to, names) };
    }
    const period = input.period ?? DEFAULT_PERIOD;
    return { range: periodRange(period, this.clock.now(), timezone), period };
  }

  query(
    scope: ReadScope,
    range: DayRange,
    options: {
      classification: ClassificationFilter;
      filters?: Filter<QueryDimension>[];
      dimensions?: QueryDimension[];
      interval?: Interval;
    },
  ): StatsQuery<QueryDimension> {
    return {
      siteId: scope.siteId,
      timezone: scope.site.timezone,
      ...toInstantRange(range, scope.site.timezone),
      classification: options.classification,
      filters: options.filters ?? [],
      dimensions: options.dimensions ?? [],
      interval: options.interval,
    };
  }

  get visitorIdMode(): string {
    return this.tracking.visitorIdMode;
  }

  meta(
    scope: ReadScope,
    resolved: ResolvedRange,
    extra: {
      classification: ClassificationFilter;
      filters: ReadFilters;
      segment?: string;
      interval?: Interval;
      comparison?: DayRange;
    },
  ): StatsMetaDto {
    const notes = [
      'visitors = distinct visitor ids; pageviews = hits named "pageview"; events = all hits',
      'a visit counts in the range and time bucket where it starts, classified by its first hit',
      'bounceRate = percent of visits with exactly one page view; visitDuration = mean of last minus first hit, seconds',
      'botShare = percent of all hits classified BOT, regardless of the classification filter',
    ];
    if (this.tracking.visitorIdMode === 'daily') {
      notes.push(
        'VISITOR_ID_MODE=daily: visitor ids rotate every UTC day, so visitors over several days are over-counted',
      );
    }
    return {
      siteId: scope.site.id,
      domain: scope.site.domain,
      timezone: scope.site.timezone,
      ...formatDayRange(resolved.range),
      ...(resolved.period ? { period: resolved.period } : {}),
      ...(extra.comparison ? { comparison: formatDayRange(extra.comparison) } : {}),
      ...(extra.interval ? { interval: extra.interval } : {}),
      sessionIdleMinutes: this.tracking.sessionIdleMinutes,
      visitorIdMode: this.tracking.visitorIdMode,
      classification: extra.classification,
      filters: [
        ...extra.filters.filters.map((filter) => ({ ...filter, values: [...filter.values] })),
        ...[...extra.filters.goalNames, ...extra.filters.behaviours].map(({ operator, names }) => ({
          operator,
          dimension: GOAL_DIMENSION,
          values: [...names],
        })),
      ],
      ...(extra.segment !== undefined ? { segment: extra.segment.trim() } : {}),
      notes,
    };
  }
}
