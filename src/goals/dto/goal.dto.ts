import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsISO4217CurrencyCode,
  IsObject,
  IsNotEmpty,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import type { StoredGoal } from '../goals.repository.js';
import { GOAL_KINDS, type GoalKind } from '../schemas/goal.schema.js';

export const MAX_PAGE_PATH_LENGTH = 2048;
export const MAX_EVENT_NAME_LENGTH = 120;
export const MAX_DISPLAY_NAME_LENGTH = 120;
/** The property keys the stats query accepts in `prop:<key>`: no `$` first, no `.`, no control character. */
const PROPERTY_KEY = /^(?!\$)[^.\p{Cc}]{1,64}$/u;

export class GoalPropertyDto {
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

export class CreateGoalDto {
  @ApiPropertyOptional({
    type: String,
    example: '/signup/*',
    description:
      'Page goal: a path starting with `/`; `*` stands for any characters (also `/`). Give this or `eventName`.',
  })
  @IsOptionalNotNull()
  @IsString()
  @Matches(/^\//, { message: 'pagePath must start with /' })
  @MaxLength(MAX_PAGE_PATH_LENGTH)
  pagePath?: string;

  @ApiPropertyOptional({
    type: String,
    example: 'Signup',
    description: 'Event goal: the custom event name (not `pageview`). Give this or `pagePath`.',
  })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_EVENT_NAME_LENGTH)
  eventName?: string;

  @ApiPropertyOptional({
    type: GoalPropertyDto,
    description: 'Event goals only: the event must also carry this property with this value',
  })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => GoalPropertyDto)
  property?: GoalPropertyDto;

  @ApiPropertyOptional({
    type: String,
    example: 'Signed up',
    description:
      'Name in results and in `goal` filters; unique per site. Default: the event name, or `Visit <pagePath>`.',
  })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_DISPLAY_NAME_LENGTH)
  displayName?: string;

  @ApiPropertyOptional({
    type: String,
    example: 'EUR',
    description: 'Event goals only: ISO 4217 code of the revenue the event carries; enables the revenue metrics',
  })
  @IsOptionalNotNull()
  @IsISO4217CurrencyCode({ message: 'revenueCurrency must be an ISO 4217 currency code such as EUR' })
  revenueCurrency?: string;
}

export class UpdateGoalDto {
  @ApiPropertyOptional({ type: String, example: 'Signed up', description: 'New name; unique per site' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_DISPLAY_NAME_LENGTH)
  displayName?: string;

  @ApiPropertyOptional({
    type: String,
    example: 'EUR',
    nullable: true,
    description: 'Event goals only: ISO 4217 code of its revenue, or null to stop reporting revenue',
  })
  // null is a value here (it removes the currency); absent leaves it as it is.
  @ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null)
  @IsISO4217CurrencyCode({ message: 'revenueCurrency must be an ISO 4217 currency code such as EUR, or null' })
  revenueCurrency?: string | null;
}

export class GoalDto {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000beef' })
  id!: string;

  @ApiProperty({ type: String, example: '65f1c0ffee0000000000cafe' })
  siteId!: string;

  @ApiProperty({ enum: GOAL_KINDS, enumName: 'GoalKind', example: 'event' })
  kind!: GoalKind;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'Page goals: the path pattern' })
  pagePath!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'Signup', description: 'Event goals: the event name' })
  eventName!: string | null;

  @ApiProperty({ type: GoalPropertyDto, nullable: true, description: 'Event goals: the property match, if any' })
  property!: GoalPropertyDto | null;

  @ApiProperty({ type: String, example: 'Signup' })
  displayName!: string;

  @ApiProperty({ type: String, nullable: true, example: 'EUR' })
  revenueCurrency!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  static from(goal: StoredGoal): GoalDto {
    return {
      id: goal.id,
      siteId: goal.siteId,
      kind: goal.kind,
      pagePath: goal.pagePath,
      eventName: goal.eventName,
      property: goal.property,
      displayName: goal.displayName,
      revenueCurrency: goal.revenueCurrency,
      createdAt: goal.createdAt.toISOString(),
    };
  }
}
