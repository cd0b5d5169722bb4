import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import { PERIODS, type Period } from '../query/date-range.js';
import { DIMENSIONS, VISIT_DIMENSIONS_DESCRIPTION } from '../query/dimensions.js';
import { GOAL_DIMENSION } from '../query/goal-query.js';
import {
  FILTER_OPERATORS,
  INTERVALS,
  QUERY_METRICS,
  type ClassificationFilter,
  type Interval,
  type QueryMetric,
} from '../query/stats-query.js';
import { CLASSIFICATION_FILTERS, DIMENSION_SCHEMA, MAX_DIMENSION_LENGTH } from './analytics-query.dto.js';
import { MAX_LIST_LIMIT } from '../../common/pagination/page-query.dto.js';

export class DateRangeDto {
  @ApiPropertyOptional({
    enum: PERIODS,
    enumName: 'Period',
    description: 'Relative period (see GET /stats/overview); excludes from/to.',
  })
  @IsOptionalNotNull()
  @IsIn(PERIODS)
  period?: Period;

  @ApiPropertyOptional({ type: String, example: '2024-03-01', description: 'First day, inclusive, site time zone' })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(10)
  from?: string;

  @ApiPropertyOptional({ type: String, example: '2024-03-31', description: 'Last day, inclusive, site time zone' })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(10)
  to?: string;
}

export const ORDER_DIRECTIONS = ['asc', 'desc'] as const;

export class OrderByDto {
  @ApiProperty({
    type: String,
    example: 'visitors',
    description: 'A requested metric, a requested dimension, or `time`',
  })
  @IsString()
  @MaxLength(64)
  field!: string;

  @ApiProperty({ enum: ORDER_DIRECTIONS, enumName: 'OrderDirection', example: 'desc' })
  @IsIn(ORDER_DIRECTIONS)
  direction!: (typeof ORDER_DIRECTIONS)[number];
}

/** One filter in the OpenAPI document (also the syntax of a saved segment's filters). */
export const FILTER_SCHEMA = {
  type: 'array',
  minItems: 3,
  maxItems: 3,
  description:
    `[operator, dimension, values]: operator one of ${FILTER_OPERATORS.join(', ')}; dimension one of ${DIMENSIONS.join(', ')}, or prop:<key>; values a string, number or list of them. ` +
    'Goals (docs/goals.md): ["is" | "contains", "goal", names] makes it a goal query; ["has_done" | "has_not_done", "goal", names] keeps the visitors who did / did not complete one of those goals in the range.',
  items: {
    oneOf: [
      { type: 'string' },
      { type: 'number' },
      { type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'number' }] } },
    ],
  },
};

/** `POST /api/v1/stats/query`: the general query every other analytics endpoint is a thin case of. */
export class StatsQueryBodyDto {
  @ApiPropertyOptional({
    type: String,
    example: 'example.com',
    description: 'Site id or domain; may be omitted when the caller can see exactly one site.',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(253)
  siteId?: string;

  @ApiProperty({
    enum: QUERY_METRICS,
    enumName: 'QueryMetric',
    isArray: true,
    example: ['visitors', 'pageviews'],
    description:
      "`percentage`: a group's visitors as a share of all visitors matching the filters (1 decimal); needs a dimension or an interval. " +
      'In a goal query (a `goal` dimension or goal filter) `visitors` are unique conversions, `events` total conversions, and `conversionRate`, `groupConversionRate`, `revenueTotal`, `revenueAverage` are available (docs/goals.md).',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(QUERY_METRICS.length)
  @IsIn(QUERY_METRICS, { each: true })
  metrics!: QueryMetric[];

  @ApiPropertyOptional({ type: DateRangeDto, description: 'Default: period 30d' })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => DateRangeDto)
  dateRange?: DateRangeDto;

  @ApiPropertyOptional({
    type: 'array',
    items: { oneOf: [...DIMENSION_SCHEMA.oneOf, { type: 'string', enum: [GOAL_DIMENSION] }] },
    example: ['country', 'prop:plan'],
    description:
      'Fixed dimensions, or `prop:<key>` for a custom-event property (hits without it group as null), or `goal` (a goal query: one row per goal, see docs/goals.md). ' +
      VISIT_DIMENSIONS_DESCRIPTION,
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(3)
  @IsString({ each: true })
  @MaxLength(MAX_DIMENSION_LENGTH, { each: true })
  dimensions?: string[];

  @ApiPropertyOptional({
    enum: INTERVALS,
    enumName: 'Interval',
    description: 'Also group by this time bucket (site time zone); rows then carry `time`',
  })
  @IsOptionalNotNull()
  @IsIn(INTERVALS)
  interval?: Interval;

  @ApiPropertyOptional({ type: 'array', items: FILTER_SCHEMA, example: [['is', 'country', ['DE', 'FR']]] })
  @IsOptionalNotNull()
  @IsArray()
  filters?: unknown[];

  @ApiPropertyOptional({
    type: String,
    example: '665f1c2b9d3e4a0012345678',
    description: "A saved segment's id (GET /api/v1/sites/{id}/segments): its filters are ANDed with `filters`",
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(64)
  segment?: string;

  @ApiPropertyOptional({ enum: CLASSIFICATION_FILTERS, enumName: 'ClassificationFilter', default: 'USER' })
  @IsOptionalNotNull()
  @IsIn(CLASSIFICATION_FILTERS)
  classification?: ClassificationFilter;

  @ApiPropertyOptional({
    type: [OrderByDto],
    description: 'Default: the first metric descending, then dimensions ascending',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(5)
  @ValidateNested({ each: true })
  @Type(() => OrderByDto)
  orderBy?: OrderByDto[];

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: 100 })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_LIST_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, default: 1 })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  page?: number;
}
