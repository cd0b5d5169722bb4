import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PERIODS, type Period } from '../query/date-range.js';
import { DIMENSIONS, DIMENSION_ALIASES, VISIT_DIMENSIONS_DESCRIPTION } from '../query/dimensions.js';
import { ALL_METRICS, INTERVALS, type ClassificationFilter, type Interval } from '../query/stats-query.js';
import { PageQueryDto } from '../../common/pagination/page-query.dto.js';

export const CLASSIFICATION_FILTERS = ['USER', 'BOT', 'ALL'] as const;
export const BREAKDOWN_DIMENSIONS = [...DIMENSIONS, ...Object.keys(DIMENSION_ALIASES)];
/** Longest dimension name a caller can send: `prop:` and a 64-character key. */
export const MAX_DIMENSION_LENGTH = 69;

/** A dimension in the OpenAPI document: a fixed name, or `prop:<key>` for a custom-event property. */
export const DIMENSION_SCHEMA = {
  oneOf: [
    { type: 'string', enum: BREAKDOWN_DIMENSIONS },
    {
      type: 'string',
      pattern: '^prop:[^$.][^.]{0,63}$',
      description: 'A custom-event property: its key, 1–64 characters, not starting with $, without dots',
    },
  ],
};

export class SiteQueryDto {
  @ApiPropertyOptional({
    type: String,
    example: 'example.com',
    description:
      'Site id or domain; may be omitted when the caller can see exactly one site (a read key implies its site).',
  })
  @IsOptional()
  @IsString()
  @MaxLength(253)
  siteId?: string;
}

export class ClassifiedSiteQueryDto extends SiteQueryDto {
  @ApiPropertyOptional({
    enum: CLASSIFICATION_FILTERS,
    enumName: 'ClassificationFilter',
    default: 'USER',
    description: 'Humans by default; BOT for bots only; ALL for both.',
  })
  @IsOptional()
  @IsIn(CLASSIFICATION_FILTERS)
  classification?: ClassificationFilter;
}

/** Range parameters of the analytics endpoints: `from`+`to`, or `period` (default `30d`). */
export class RangeQueryDto extends ClassifiedSiteQueryDto {
  @ApiPropertyOptional({
    type: String,
    example: '2024-03-01',
    description: 'First day, inclusive, site time zone (YYYY-MM-DD). Requires `to`; excludes `period`.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(10)
  from?: string;

  @ApiPropertyOptional({
    type: String,
    example: '2024-03-31',
    description: 'Last day, inclusive, site time zone (YYYY-MM-DD). Requires `from`.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(10)
  to?: string;

  @ApiPropertyOptional({
    enum: PERIODS,
    enumName: 'Period',
    description:
      'Relative to today in the site time zone, today included (Plausible): day = today; 7d/30d = the last 7/30 days; ' +
      'month = this month so far; 6mo/12mo = this month and the 5/11 before it. Default 30d when neither period nor from/to is given.',
  })
  @IsOptional()
  @IsIn(PERIODS)
  period?: Period;

  @ApiPropertyOptional({
    type: String,
    example: '[["is","country",["DE","FR"]]]',
    description:
      'JSON array of filters `[operator, dimension, values]`; operators: is, is_not, contains, not_contains; ' +
      `dimensions: ${DIMENSIONS.join(', ')}, or prop:<key> (a custom-event property, compared as text). All filters must hold. ` +
      'Also the behavioural ["has_done" | "has_not_done", "goal", names] (docs/goals.md); a goal filter ["is" | "contains", "goal", names] makes a goal query, which only POST /api/v1/stats/query answers (400).',
  })
  @IsOptional()
  @IsString()
  @MaxLength(8192)
  filters?: string;

  @ApiPropertyOptional({
    type: String,
    example: '665f1c2b9d3e4a0012345678',
    description:
      "A saved segment's id (GET /api/v1/sites/{id}/segments): its filters are ANDed with `filters`. " +
      'An id that is no segment of this site is a 404 naming it; a segment holding a goal filter a 400, one naming a deleted goal a 409.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  segment?: string;
}

const METRICS_DESCRIPTION = `Comma-separated metrics: ${ALL_METRICS.join(', ')}.`;

export class TimeseriesQueryDto extends RangeQueryDto {
  @ApiPropertyOptional({
    enum: INTERVALS,
    enumName: 'Interval',
    description: 'Bucket size; default `hour` for period=day, else `day`.',
  })
  @IsOptional()
  @IsIn(INTERVALS)
  interval?: Interval;

  @ApiPropertyOptional({
    type: String,
    example: 'visitors,pageviews',
    default: 'visitors,pageviews',
    description: METRICS_DESCRIPTION,
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  metrics?: string;
}

export class BreakdownQueryDto extends IntersectionType(RangeQueryDto, PageQueryDto) {
  @ApiProperty({
    ...DIMENSION_SCHEMA,
    example: 'country',
    description: `\`event\` is an alias of \`event_name\`; \`prop:<key>\` groups by a custom-event property. ${VISIT_DIMENSIONS_DESCRIPTION}`,
  })
  @IsString()
  @MaxLength(MAX_DIMENSION_LENGTH)
  dimension!: string;

  @ApiPropertyOptional({
    type: String,
    example: 'visitors,pageviews',
    default: 'visitors,pageviews',
    description: METRICS_DESCRIPTION + ' Sorted by the first, descending.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  metrics?: string;
}
