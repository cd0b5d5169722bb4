import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { RangeQueryDto } from '../dto/analytics-query.dto.js';
import { StatsMetaDto } from '../dto/analytics-response.dto.js';

export class FunnelQueryDto extends RangeQueryDto {
  @ApiProperty({
    type: String,
    example: '665f1c2b9d3e4a0012345679',
    description: 'The funnel to evaluate (GET /api/v1/sites/{id}/funnels)',
  })
  @IsString()
  @MaxLength(64)
  funnelId!: string;
}

export class FunnelStepDto {
  @ApiProperty({ type: 'integer', example: 1, description: 'Position in the funnel, from 1' })
  step!: number;

  @ApiProperty({ type: String, example: '665f1c2b9d3e4a0012345671' })
  goalId!: string;

  @ApiProperty({ type: String, example: 'Visit /pricing', description: "The step's goal name" })
  label!: string;

  @ApiProperty({
    type: 'integer',
    example: 120,
    description: 'Visitors who completed this step and every one before it, in order, within one visit',
  })
  visitors!: number;

  @ApiProperty({
    type: 'integer',
    example: 30,
    description: "The previous step's visitors who did not go on; 0 for step 1",
  })
  dropoff!: number;

  @ApiProperty({ type: Number, example: 20, description: "dropoff as % of the previous step's visitors (2 decimals)" })
  dropoffPercentage!: number;

  @ApiProperty({ type: Number, example: 80, description: "visitors as % of the first step's (2 decimals)" })
  conversionRate!: number;

  @ApiProperty({
    type: Number,
    example: 80,
    description: "visitors as % of the previous step's (2 decimals); for step 1, its conversionRate",
  })
  conversionRateStep!: number;
}

export class FunnelResultDto {
  @ApiProperty({ type: String, example: '665f1c2b9d3e4a0012345679' })
  id!: string;

  @ApiProperty({ type: String, example: 'Pricing to signup' })
  name!: string;
}

export class FunnelResponseDto {
  @ApiProperty({ type: FunnelResultDto })
  funnel!: FunnelResultDto;

  @ApiProperty({
    type: 'integer',
    example: 400,
    description: 'All visitors of the range and filters (the `visitors` metric), entering the funnel or not',
  })
  visitors!: number;

  @ApiProperty({ type: 'integer', example: 150, description: 'Visitors who completed step 1' })
  enteringVisitors!: number;

  @ApiProperty({ type: Number, example: 37.5, description: 'enteringVisitors as % of visitors (2 decimals)' })
  enteringVisitorsPercentage!: number;

  @ApiProperty({ type: 'integer', example: 250 })
  neverEnteringVisitors!: number;

  @ApiProperty({ type: Number, example: 62.5, description: 'neverEnteringVisitors as % of visitors (2 decimals)' })
  neverEnteringVisitorsPercentage!: number;

  @ApiProperty({ type: [FunnelStepDto] })
  steps!: FunnelStepDto[];

  @ApiProperty({ type: StatsMetaDto })
  meta!: StatsMetaDto;
}
