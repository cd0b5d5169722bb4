import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import { FILTER_SCHEMA } from '../../stats/dto/query-body.dto.js';
import type { StoredSegment } from '../segments.service.js';

const FILTERS_DESCRIPTION =
  'The same filters as `POST /api/v1/stats/query`, all of which must hold; 1 to 20, goal filters (`["is" | "contains", "goal", names]`) and behavioural ones (`["has_done" | "has_not_done", "goal", names]`) included. ' +
  'Checked on save: 400 naming a malformed filter, or a goal name (`is`, `has_done`, `has_not_done`) that is no goal of the site.';

export class CreateSegmentDto {
  @ApiProperty({ type: String, example: 'German mobile visitors', description: 'Unique within the site' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({
    type: 'array',
    items: FILTER_SCHEMA,
    example: [
      ['is', 'country', ['DE']],
      ['is', 'device', ['mobile']],
    ],
    description: FILTERS_DESCRIPTION,
  })
  @IsArray()
  filters!: unknown[];
}

export class UpdateSegmentDto {
  @ApiPropertyOptional({ type: String, example: 'German mobile visitors', description: 'Unique within the site' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({
    type: 'array',
    items: FILTER_SCHEMA,
    example: [['is', 'country', ['DE']]],
    description: FILTERS_DESCRIPTION,
  })
  @IsOptionalNotNull()
  @IsArray()
  filters?: unknown[];
}

export class SegmentDto {
  @ApiProperty({
    type: String,
    example: '665f1c2b9d3e4a0012345678',
    description: 'Use it as `segment` on the read endpoints',
  })
  id!: string;

  @ApiProperty({ type: String, example: '665f1c2b9d3e4a0012345670' })
  siteId!: string;

  @ApiProperty({ type: String, example: 'German mobile visitors' })
  name!: string;

  @ApiProperty({
    type: 'array',
    items: FILTER_SCHEMA,
    example: [['is', 'country', ['DE']]],
    description: 'Goals are given by their current names: a renamed goal stays in its segments',
  })
  filters!: Array<[string, string, string[]]>;

  @ApiProperty({
    type: [String],
    example: [],
    description:
      'Goals the filters name that were deleted since (by their names as last saved). While any remain, reads applying the segment answer 409 naming them; saving new filters clears them.',
  })
  missingGoals!: string[];

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(segment: StoredSegment): SegmentDto {
    return {
      id: segment.id,
      siteId: segment.siteId,
      name: segment.name,
      filters: segment.filters.map((filter) => [filter.operator, filter.dimension, [...filter.values]]),
      missingGoals: [...segment.missingGoals],
      createdAt: segment.createdAt.toISOString(),
      updatedAt: segment.updatedAt.toISOString(),
    };
  }
}
