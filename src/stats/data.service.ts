import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';
import { countryName } from '../geo/country-name.js';
import type {
  CityRowDto,
  CountryRowDto,
  HostnameRowDto,
  SeriesResponseDto,
  UrlRowDto,
} from './dto/data-response.dto.js';
import type { DataInterval, DataListQueryDto, DataRangeQueryDto, DataSeriesQueryDto } from './dto/data-query.dto.js';
import { bucketLabels } from './time/buckets.js';
import { ConversionsService } from './conversions.service.js';
import type { Dimension } from './query/dimensions.js';
import { paginate, sortRows } from './query/ordering.js';
import { parseReadFilters, type ReadFilters } from './query/parse-filters.js';
import type { Metric } from './query/stats-query.js';
import { StatsEngine, type ResultRow } from './stats-engine.service.js';
import { StatsScopeService, type ReadScope } from './stats-scope.service.js';
import type { DayRange } from './query/date-range.js';

const DATA_PARAMETER_NAMES = { from: 'start_date', to: 'end_date', period: 'period' };
const DEFAULT_LIMIT = 100;

type SeriesKind = 'users' | 'views';
const SERIES_METRIC: Record<SeriesKind, Metric> = { users: 'visitors', views: 'pageviews' };

/**
 * The site-analytics `/api/v1/data/*` endpoints, as thin cases of the stats engine: users =
 * distinct visitors, views = page views, all traffic unless `classification` is given (what
 * site-analytics scripts expect). Lists are sorted by their measure (users for countries and
 * cities, views for urls and hostnames) descending, ties by name. `segment` (Siteline's own
 * parameter) counts only the hits a saved segment's filters keep, as the stats endpoints do
 * (behavioural filters included; a segment with a goal filter is a 400: these are no goal queries).
 */
@Injectable()
export class DataService {
  constructor(
    private readonly scope: StatsScopeService,
    private readonly engine: StatsEngine,
    private readonly conversions: ConversionsService,
  ) {}

  async series(principal: Principal, kind: SeriesKind, params: DataSeriesQueryDto): Promise<SeriesResponseDto> {
    const { scope, range, filters } = await this.open(principal, params);
    const interval: DataInterval = params.interval ?? 'day';
    const metric = SERIES_METRIC[kind];
    const query = await this.conversions.withBehaviourFilters(
      this.scope.query(scope, range, { classification: params.classification ?? 'ALL', filters: filters.filters }),
      filters.behaviours,
    );
    const [totals, points] = await Promise.all([
      this.engine.run(query, [metric]),
      this.engine.run({ ...query, interval }, [metric]),
    ]);
    const byDate = new Map(points.map((row) => [row.key.time, row.values[metric] ?? 0]));
    return {
      total: totals[0]?.values[metric] ?? 0,
      series: bucketLabels(range.from, range.to, interval, scope.site.timezone).map((date) => ({
        date,
        value: byDate.get(date) ?? 0,
      })),
    };
  }

  async countries(principal: Principal, params: DataListQueryDto): Promise<CountryRowDto[]> {
    const rows = await this.list(principal, params, ['country']);
    const mapped = rows.map((row) => ({
      country: countryName(row.key.country),
      countryCode: row.key.country,
      users: row.values.visitors ?? 0,
      views: row.values.pageviews ?? 0,
    }));
    return this.page(
      mapped,
      (row) => row.users,
      (row) => row.country,
      params,
    );
  }

  async cities(principal: Principal, params: DataListQueryDto): Promise<CityRowDto[]> {
    const rows = await this.list(principal, params, ['city', 'region', 'country']);
    const mapped = rows.map((row) => ({
      city: row.key.city || 'Unknown',
      region: row.key.region || null,
      country: countryName(row.key.country),
      countryCode: row.key.country,
      users: row.values.visitors ?? 0,
      views: row.values.pageviews ?? 0,
    }));
    return this.page(
      mapped,
      (row) => row.users,
      (row) => `${row.city}\u0000${row.country}`,
      params,
    );
  }

  /** `url` is the page path; the same path on several hosts of a site is one row (see the page_host breakdown). */
  async urls(principal: Principal, params: DataListQueryDto): Promise<UrlRowDto[]> {
    const rows = await this.list(principal, params, ['page']);
    const mapped = rows.map((row) => ({
      url: row.key.page ?? 'Unknown',
      views: row.values.pageviews ?? 0,
      users: row.values.visitors ?? 0,
    }));
    return this.page(
      mapped,
      (row) => row.views,
      (row) => row.url,
      params,
    );
  }

  async hostnames(principal: Principal, params: DataListQueryDto): Promise<HostnameRowDto[]> {
    const rows = await this.list(principal, params, ['network_domain']);
    const mapped = rows.map((row) => ({
      hostname: row.key.network_domain || 'Unknown',
      views: row.values.pageviews ?? 0,
      users: row.values.visitors ?? 0,
    }));
    return this.page(
      mapped,
      (row) => row.views,
      (row) => row.hostname,
      params,
    );
  }

  /** The site read, the range, and the filters of the `segment` given (none without one). */
  private async open(
    principal: Principal,
    params: DataRangeQueryDto,
  ): Promise<{ scope: ReadScope; range: DayRange; filters: ReadFilters }> {
    const scope = await this.scope.open(principal, params.siteId);
    const { range } = this.scope.resolveRange(
      { from: params.start_date, to: params.end_date },
      scope.site.timezone,
      DATA_PARAMETER_NAMES,
    );
    const filters = await this.scope.withSegment(scope, params.segment, parseReadFilters([]), {
      goalQueryRefusedBy: '/api/v1/data/*',
    });
    return { scope, range, filters };
  }

  private async list(principal: Principal, params: DataListQueryDto, dimensions: Dimension[]): Promise<ResultRow[]> {
    const { scope, range, filters } = await this.open(principal, params);
    const query = this.scope.query(scope, range, {
      classification: params.classification ?? 'ALL',
      dimensions,
      filters: filters.filters,
    });
    return this.engine.run(await this.conversions.withBehaviourFilters(query, filters.behaviours), [
      'visitors',
      'pageviews',
    ]);
  }

  private page<Row>(
    rows: Row[],
    measure: (row: Row) => number,
    name: (row: Row) => string,
    params: DataListQueryDto,
  ): Row[] {
    const sorted = sortRows(rows, [
      { value: measure, direction: 'desc' },
      { value: name, direction: 'asc' },
    ]);
    return paginate(sorted, params.page ?? 1, params.limit ?? DEFAULT_LIMIT);
  }
}
