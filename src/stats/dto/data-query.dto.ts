import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination/page-query.dto.js';
import { CLASSIFICATIONS, type Classification } from '../../hits/hit.schema.js';

export const DATA_INTERVALS = ['day', 'week', 'month'] as const;
export type DataInterval = (typeof DATA_INTERVALS)[number];

/** `GET /api/v1/data/*` parameters shared by every data endpoint (site-analytics compatible). */
export class DataRangeQueryDto {
  @ApiProperty({
    type: String,
    example: '2024-03-01',
    description:
      'First day, inclusive, in the site time zone. `YYYY-MM-DD`; unpadded months/days (`2021-3-5`) are accepted.',
  })
  @IsString()
  @MaxLength(10)
  start_date!: string;

  @ApiProperty({
    type: String,
    example: '2024-03-31',
    description: 'Last day, inclusive, in the site time zone; at most 10 years after start_date.',
  })
  @IsString()
  @MaxLength(10)
  end_date!: string;

  @ApiPropertyOptional({
    enum: CLASSIFICATIONS,
    enumName: 'DataClassification',
    description: 'Only human (USER) or BOT traffic; absent: all traffic.',
  })
  @IsOptional()
  @IsIn(CLASSIFICATIONS)
  classification?: Classification;

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

  @ApiPropertyOptional({
    type: String,
    example: '665f1c2b9d3e4a0012345678',
    description:
      "A saved segment's id (GET /api/v1/sites/{id}/segments): only the hits its filters keep are counted. " +
      'An id that is no segment of this site is a 404 naming it; a segment holding a goal filter a 400, one naming a deleted goal a 409.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  segment?: string;
}

export class DataSeriesQueryDto extends DataRangeQueryDto {
  @ApiPropertyOptional({
    enum: DATA_INTERVALS,
    enumName: 'DataInterval',
    default: 'day',
    description: 'One series point per day, week (Monday) or month.',
  })
  @IsOptional()
  @IsIn(DATA_INTERVALS)
  interval?: DataInterval;
}

/** A data list endpoint's parameters: the range, plus `limit` and `page`. */
export class DataListQueryDto extends IntersectionType(DataRangeQueryDto, PageQueryDto) {}
