import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsNotEmpty,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import { MAX_FUNNEL_STEPS, MIN_FUNNEL_STEPS, type FunnelDefinition, type FunnelStep } from '../funnels.service.js';

export const MAX_PAGE_PATH_LENGTH = 2048;
export const MAX_EVENT_NAME_LENGTH = 120;
export const MAX_STEP_LABEL_LENGTH = 120;
/** The property keys the stats query accepts in `prop:<key>`: no `$` first, no `.`, no control character. */
const PROPERTY_KEY = /^(?!\$)[^.\p{Cc}]{1,64}$/u;

export class FunnelStepPropertyDto {
  @ApiProperty({ type: String, example: 'plan', description: 'Property key (1–64 characters, no `.`, not `$…`)' })
  @IsString()
  @Matches(PROPERTY_KEY, {
    message: 'key must be 1–64 characters, not start with $ and not contain . or control characters',
  })
  key!: string;

  @ApiProperty({ type: String, example: 'pro', description: 'The value the property must have (compared as text)' })
  @IsString()
  @MaxLength(2048)
  value!: string;
}

/** A step as given: a page pattern or an event (a goal's shape). */
export class FunnelStepInputDto {
  @ApiPropertyOptional({
    type: String,
    example: '/pricing',
    description:
      'Page step: a path starting with `/`; `*` stands for any characters (also `/`). Give this or `eventName`.',
  })
  @IsOptionalNotNull()
  @IsString()
  @Matches(/^\//, { message: 'pagePath must start with /' })
  @MaxLength(MAX_PAGE_PATH_LENGTH)
  pagePath?: string;

  @ApiPropertyOptional({
    type: String,
    example: 'Signup',
    description: 'Event step: the custom event name (not `pageview`). Give this or `pagePath`.',
  })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_EVENT_NAME_LENGTH)
  eventName?: string;

  @ApiPropertyOptional({
    type: FunnelStepPropertyDto,
    description: 'Event steps only: the event must also carry this property with this value',
  })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => FunnelStepPropertyDto)
  property?: FunnelStepPropertyDto;

  @ApiPropertyOptional({
    type: String,
    example: 'Saw the prices',
    description: 'Name shown for the step. Default: the event name, or `Visit <pagePath>`.',
  })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_STEP_LABEL_LENGTH)
  label?: string;
}

const STEPS_DESCRIPTION = `The steps in order: ${MIN_FUNNEL_STEPS} to ${MAX_FUNNEL_STEPS}, no two the same`;

export class CreateFunnelDto {
  @ApiProperty({ type: String, example: 'Pricing to signup', description: 'Unique within the site' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({
    type: [FunnelStepInputDto],
    example: [{ pagePath: '/pricing' }, { eventName: 'Signup' }],
    description: STEPS_DESCRIPTION,
  })
  @IsArray()
  @ArrayMinSize(MIN_FUNNEL_STEPS)
  @ArrayMaxSize(MAX_FUNNEL_STEPS)
  @ValidateNested({ each: true })
  @Type(() => FunnelStepInputDto)
  steps!: FunnelStepInputDto[];
}

export class UpdateFunnelDto {
  @ApiPropertyOptional({ type: String, example: 'Pricing to signup', description: 'Unique within the site' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({
    type: [FunnelStepInputDto],
    example: [{ pagePath: '/pricing' }, { eventName: 'Signup' }],
    description: STEPS_DESCRIPTION,
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(MIN_FUNNEL_STEPS)
  @ArrayMaxSize(MAX_FUNNEL_STEPS)
  @ValidateNested({ each: true })
  @Type(() => FunnelStepInputDto)
  steps?: FunnelStepInputDto[];
}

export class FunnelStepDto {
  @ApiProperty({ type: String, example: 'Visit /pricing' })
  label!: string;

  @ApiProperty({ type: String, nullable: true, example: '/pricing', description: 'Set for a page step' })
  pagePath!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'Set for an event step' })
  eventName!: string | null;

  @ApiProperty({ type: FunnelStepPropertyDto, nullable: true, example: null })
  property!: FunnelStepPropertyDto | null;

  static from(step: FunnelStep): FunnelStepDto {
    return {
      label: step.label,
      pagePath: step.match.kind === 'page' ? step.match.pagePath : null,
      eventName: step.match.kind === 'event' ? step.match.eventName : null,
      property: step.match.kind === 'event' && step.match.property ? { ...step.match.property } : null,
    };
  }
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

  @ApiProperty({ type: [FunnelStepDto] })
  steps!: FunnelStepDto[];

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;

  static from(funnel: FunnelDefinition): FunnelDto {
    return {
      id: funnel.id,
      siteId: funnel.siteId,
      name: funnel.name,
      steps: funnel.steps.map((step) => FunnelStepDto.from(step)),
      createdAt: funnel.createdAt.toISOString(),
      updatedAt: funnel.updatedAt.toISOString(),
    };
  }
}
