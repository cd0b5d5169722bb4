import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CLASSIFICATION_FILTERS } from './analytics-query.dto.js';

export class MetricValueDto {
  @ApiProperty({ type: Number, example: 120 })
  value!: number;

  @ApiProperty({ type: Number, example: 100, description: 'Same metric over the previous period of equal length' })
  previous!: number;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: 20,
    description: 'Percent change from previous (1 decimal); null when previous is 0',
  })
  change!: number | null;
}

export class OverviewResultsDto {
  @ApiProperty({ type: MetricValueDto, description: 'Distinct visitors (visitorKey)' })
  visitors!: MetricValueDto;

  @ApiProperty({ type: MetricValueDto, description: 'Visits that started in the range' })
  visits!: MetricValueDto;

  @ApiProperty({ type: MetricValueDto, description: 'Hits named pageview' })
  pageviews!: MetricValueDto;

  @ApiProperty({ type: MetricValueDto, description: 'Page views of the visits ÷ visits, 2 decimals' })
  viewsPerVisit!: MetricValueDto;

  @ApiProperty({ type: MetricValueDto, description: 'Percent of visits with exactly one page view, 1 decimal' })
  bounceRate!: MetricValueDto;

  @ApiProperty({ type: MetricValueDto, description: 'Mean visit duration (last − first hit) in whole seconds' })
  visitDuration!: MetricValueDto;

  @ApiProperty({ type: MetricValueDto, description: 'All hits: page views and custom events' })
  events!: MetricValueDto;

  @ApiProperty({
    type: MetricValueDto,
    description: 'Percent of all hits classified BOT, whatever the classification filter',
  })
  botShare!: MetricValueDto;
}

/** Metric values of one row; only the requested metrics are present. */
export class MetricNumbersDto {
  @ApiPropertyOptional({ type: Number })
  visitors?: number;

  @ApiPropertyOptional({ type: Number })
  visits?: number;

  @ApiPropertyOptional({ type: Number })
  pageviews?: number;

  @ApiPropertyOptional({ type: Number })
  viewsPerVisit?: number;

  @ApiPropertyOptional({ type: Number })
  bounceRate?: number;

  @ApiPropertyOptional({ type: Number })
  visitDuration?: number;

  @ApiPropertyOptional({ type: Number })
  events?: number;

  @ApiPropertyOptional({ type: Number })
  botShare?: number;

  @ApiPropertyOptional({
    type: Number,
    description:
      'Engagement time per visitor with an engagement record, whole seconds (see docs/metrics-engagement.md)',
  })
  time_on_page?: number;

  @ApiPropertyOptional({
    type: Number,
    description: "Mean of each engaged visitor's deepest scroll, whole percent (see docs/metrics-engagement.md)",
  })
  scroll_depth?: number;

  @ApiPropertyOptional({
    type: Number,
    description: 'POST /stats/query only: the share of all visitors matching the filters, in percent',
  })
  percentage?: number;

  @ApiPropertyOptional({
    type: Number,
    description:
      'Goal queries: converted visitors as a share of all visitors of the range and filters (goal and property filters aside), percent, 1 decimal',
  })
  conversionRate?: number;

  @ApiPropertyOptional({
    type: Number,
    description:
      "Goal queries: converted visitors as a share of the visitors of the row's group (its other dimensions and time)",
  })
  groupConversionRate?: number;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description:
      'Goal queries: sum of the revenue of the conversions, in `revenueCurrency`; null when the goals report none',
  })
  revenueTotal?: number | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'Goal queries: average revenue of the conversions that carry one, in `revenueCurrency`',
  })
  revenueAverage?: number | null;
}

export class DateRangeMetaDto {
  @ApiProperty({ type: String, example: '2024-03-01' })
  from!: string;

  @ApiProperty({ type: String, example: '2024-03-31' })
  to!: string;
}

export class FilterMetaDto {
  @ApiProperty({ type: String, example: 'is' })
  operator!: string;

  @ApiProperty({ type: String, example: 'country' })
  dimension!: string;

  @ApiProperty({ type: [String], example: ['DE'] })
  values!: string[];
}

/** The definitions a response was computed with (docs/metrics.md). */
export class StatsMetaDto {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000abcd' })
  siteId!: string;

  @ApiProperty({ type: String, example: 'example.com' })
  domain!: string;

  @ApiProperty({
    type: String,
    example: 'Europe/Berlin',
    description: 'IANA zone that days and buckets are computed in',
  })
  timezone!: string;

  @ApiProperty({ type: String, example: '2024-03-01', description: 'First day of the range, inclusive' })
  from!: string;

  @ApiProperty({ type: String, example: '2024-03-31', description: 'Last day of the range, inclusive' })
  to!: string;

  @ApiPropertyOptional({ type: String, example: '30d', description: 'The relative period, when one was asked for' })
  period?: string;

  @ApiPropertyOptional({ type: DateRangeMetaDto, description: 'The previous period that `previous` values come from' })
  comparison?: DateRangeMetaDto;

  @ApiPropertyOptional({ type: String, example: 'day' })
  interval?: string;

  @ApiProperty({ type: 'integer', example: 30, description: 'A visit ends after this many minutes without a hit' })
  sessionIdleMinutes!: number;

  @ApiProperty({ type: String, example: 'ip', description: 'How visitors are identified (VISITOR_ID_MODE)' })
  visitorIdMode!: string;

  @ApiProperty({
    enum: CLASSIFICATION_FILTERS,
    enumName: 'ClassificationFilter',
    description: 'Which traffic was counted',
  })
  classification!: string;

  @ApiProperty({
    type: [FilterMetaDto],
    description:
      "Every filter applied: the ordinary ones (the saved segment's first, when `segment` was given, then the request's), then the goal and behavioural ones in the same order",
  })
  filters!: FilterMetaDto[];

  @ApiPropertyOptional({
    type: String,
    example: '665f1c2b9d3e4a0012345678',
    description: 'The saved segment applied, when one was given',
  })
  segment?: string;

  @ApiProperty({
    type: [String],
    description:
      'Definitions applied and caveats, e.g. that visits count in the range of their start, or that daily visitor ids over-count across days',
  })
  notes!: string[];
}

export class OverviewResponseDto {
  @ApiProperty({ type: OverviewResultsDto })
  results!: OverviewResultsDto;

  @ApiProperty({ type: StatsMetaDto })
  meta!: StatsMetaDto;
}

export class TimeseriesPointDto extends MetricNumbersDto {
  @ApiProperty({
    type: String,
    example: '2024-03-01',
    description:
      'Bucket label, site time zone: YYYY-MM-DDTHH:00 (hour), YYYY-MM-DD (day; week = its Monday; month = its 1st)',
  })
  date!: string;
}

export class TimeseriesResponseDto {
  @ApiProperty({ type: [TimeseriesPointDto], description: 'Every bucket of the range in order, zeros included' })
  results!: TimeseriesPointDto[];

  @ApiProperty({ type: StatsMetaDto })
  meta!: StatsMetaDto;
}

export class BreakdownRowDto extends MetricNumbersDto {
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'DE',
    description: 'The dimension value as stored; null when the hit had none',
  })
  value!: string | null;

  @ApiProperty({
    type: String,
    example: 'Germany',
    description: 'Display name: country names in English, `Direct / None` for no source, `Unknown` for other nulls',
  })
  label!: string;
}

export class PaginationDto {
  @ApiProperty({ type: 'integer', example: 1 })
  page!: number;

  @ApiProperty({ type: 'integer', example: 100 })
  limit!: number;

  @ApiProperty({ type: 'integer', example: 12, description: 'Rows over all pages' })
  total!: number;
}

export class BreakdownResponseDto {
  @ApiProperty({ type: [BreakdownRowDto] })
  results!: BreakdownRowDto[];

  @ApiProperty({ type: PaginationDto })
  pagination!: PaginationDto;

  @ApiProperty({ type: StatsMetaDto })
  meta!: StatsMetaDto;
}

export class QueryRowDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string', nullable: true },
    example: { country: 'DE' },
    description: 'The value of each requested dimension (null when the hit had none)',
  })
  dimensions!: Record<string, string | null>;

  @ApiPropertyOptional({
    type: String,
    example: '2024-03-01',
    description: 'Time bucket label when an interval was requested',
  })
  time?: string;

  @ApiProperty({ type: MetricNumbersDto })
  metrics!: MetricNumbersDto;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: 'EUR',
    description: "With revenue metrics: the ISO 4217 code of the row's revenue (its goal's currency)",
  })
  revenueCurrency?: string | null;
}

export class QueryResponseDto {
  @ApiProperty({ type: [QueryRowDto] })
  results!: QueryRowDto[];

  @ApiProperty({ type: PaginationDto })
  pagination!: PaginationDto;

  @ApiProperty({ type: StatsMetaDto })
  meta!: StatsMetaDto;
}

export class RealtimeMetaDto {
  @ApiProperty({ type: String })
  siteId!: string;

  @ApiProperty({ type: String })
  domain!: string;

  @ApiProperty({ type: String, example: '2024-03-01T12:00:00.000Z', description: 'Window start (exclusive), UTC' })
  since!: string;

  @ApiProperty({
    type: String,
    example: '2024-03-01T12:05:00.000Z',
    description: 'Window end (inclusive), UTC: the server clock',
  })
  until!: string;

  @ApiProperty({ type: 'integer', example: 5 })
  windowMinutes!: number;

  @ApiProperty({ type: String, example: 'ip' })
  visitorIdMode!: string;

  @ApiProperty({ enum: CLASSIFICATION_FILTERS, enumName: 'ClassificationFilter' })
  classification!: string;
}

export class RealtimeResponseDto {
  @ApiProperty({ type: 'integer', example: 3, description: 'Distinct visitors with a hit in the window' })
  visitors!: number;

  @ApiProperty({ type: 'integer', example: 5, description: 'Page views in the window' })
  pageviews!: number;

  @ApiProperty({ type: RealtimeMetaDto })
  meta!: RealtimeMetaDto;
}

export class UserStatsDto {
  @ApiProperty({ type: 'integer', example: 120, description: 'Distinct human (USER) visitors ever seen' })
  totalUsers!: number;

  @ApiProperty({ type: 'integer', example: 40, description: 'Human visitors with a hit in the last 7×24 h' })
  activeUsersLast7Days!: number;

  @ApiProperty({ type: 'integer', example: 9, description: 'Human visitors with a hit in the last 24 h' })
  activeUsersLast1Day!: number;

  @ApiProperty({ type: 'integer', example: 80, description: 'Human visitors with a hit in the last 30×24 h' })
  activeUsersLast30Days!: number;

  @ApiProperty({
    type: 'integer',
    example: 12,
    description: 'Human visitors whose FIRST hit is within the last 7×24 h',
  })
  newUsersLast7Days!: number;

  @ApiProperty({
    type: 'integer',
    example: 5,
    description: 'Human visitors identified by a userId sent with their hits',
  })
  identifiedUsers!: number;
}

export class UserStatsMetaDto {
  @ApiProperty({ type: String })
  siteId!: string;

  @ApiProperty({ type: String })
  domain!: string;

  @ApiProperty({
    type: String,
    example: '2024-03-01T12:00:00.000Z',
    description: 'The instant the "last N days" windows end at (server clock), UTC',
  })
  now!: string;

  @ApiProperty({ type: String, example: 'ip', description: 'How visitors are identified (VISITOR_ID_MODE)' })
  visitorIdMode!: string;
}

export class UserStatsResponseDto extends UserStatsDto {
  @ApiProperty({ type: UserStatsMetaDto })
  meta!: UserStatsMetaDto;
}
