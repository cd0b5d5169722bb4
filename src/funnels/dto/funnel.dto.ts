import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import { MAX_FUNNEL_STEPS, MIN_FUNNEL_STEPS, type FunnelDefinition } from '../funnels.service.js';

const STEPS_DESCRIPTION = `The goal ids of the steps, in order: ${MIN_FUNNEL_STEPS} to ${MAX_FUNNEL_STEPS} different goals of the site (GET /api/v1/sites/{id}/goals)`;

export class CreateFunnelDto {
  @ApiProperty({ type: String, example: 'Pricing to signup', description: 'Unique within the site' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({
    type: [String],
    example: ['665f1c2b9d3e4a0012345671', '665f1c2b9d3e4a0012345672'],
    description: STEPS_DESCRIPTION,
  })
  @IsArray()
  @ArrayMinSize(MIN_FUNNEL_STEPS)
  @ArrayMaxSize(MAX_FUNNEL_STEPS)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  goalIds!: string[];
}

export class UpdateFunnelDto {
  @ApiPropertyOptional({ type: String, example: 'Pricing to signup', description: 'Unique within the site' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ type: [String], description: STEPS_DESCRIPTION })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(MIN_FUNNEL_STEPS)
  @ArrayMaxSize(MAX_FUNNEL_STEPS)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  goalIds?: string[];
}

export class FunnelStepDefinitionDto {
  @ApiProperty({ type: String, example: '665f1c2b9d3e4a0012345671' })
  goalId!: string;

  @ApiProperty({
    type: String,
    example: 'Visit /pricing',
    description: "The goal's name; `(deleted goal)` once the goal was deleted (the funnel's reads then answer 409)",
  })
  label!: string;
}

export class FunnelDto {
  @ApiProperty({
    type: String,
    example: '665f1c2b9d3e4a0012345679',
    description: 'Use it as `funnelId` on GET /api/v1/stats/funnel',
  })
  id!: string;

  @ApiProperty({ type: String, example: '665f1c2b9d3e4a0012345670' })
  siteId!: string;

  @ApiProperty({ type: String, example: 'Pricing to signup' })
  name!: string;

  @ApiProperty({ type: [FunnelStepDefinitionDto] })
  steps!: FunnelStepDefinitionDto[];

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(funnel: FunnelDefinition): FunnelDto {
    return {
      id: funnel.id,
      siteId: funnel.siteId,
      name: funnel.name,
      steps: funnel.steps.map((step) => ({ goalId: step.goalId, label: step.label })),
      createdAt: funnel.createdAt.toISOString(),
      updatedAt: funnel.updatedAt.toISOString(),
    };
  }
}
