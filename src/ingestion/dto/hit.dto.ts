import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsInt,
  IsIP,
  IsISO8601,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import type { HitProps } from '../../hits/hit.schema.js';
import { IsFlatProps, MAX_PROPS } from './flat-props.validator.js';
import { IsRevenue, type RevenueInput } from './revenue.validator.js';

export const MAX_HITS_PER_REQUEST = 500;

/** The event name of an engagement record (time on page and scroll depth, sent when a page is left). */
export const ENGAGEMENT = 'engagement';

/**
 * Engagement time above this is stored as this: a tab left open and focused overnight is not
 * 12 hours of reading, and one such record would dominate a page's average time.
 */
export const MAX_ENGAGEMENT_MS = 30 * 60 * 1000;

/**
 * One page view or event as a client sends it to `POST /api/v1/hits` (fields in docs/api.md). An optional
 * field sent as `null` counts as not sent (see `validateItem`).
 */
export class HitDto {
  @ApiPropertyOptional({
    type: String,
    maxLength: 128,
    example: '665f1c2e9b1d8a0012345678',
    description: 'Site id or domain. Required for browser sends (no key); implied by a site key.',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  siteId?: string;

  @ApiProperty({
    type: String,
    maxLength: 2048,
    example: 'https://example.com/pricing?utm_source=newsletter',
    description: 'Absolute URL or path. Stored as host + path; query and fragment dropped except utm_* parameters.',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(2048)
  url!: string;

  @ApiPropertyOptional({ type: String, maxLength: 2048, example: 'https://news.ycombinator.com/item?id=1' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  referrer?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 1024,
    example:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    description: "Defaults to the request's User-Agent header.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  userAgent?: string;

  @ApiPropertyOptional({
    type: String,
    example: '203.0.113.7',
    description: "The visitor's IPv4/IPv6 address. Only with a site key; browsers' sends use the request address.",
  })
  @IsOptional()
  @IsIP()
  ip?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    example: '2024-03-01T12:00:00Z',
    description: 'When the hit happened. Only with a site key; within [now − MAX_BACKFILL_DAYS, now + 5 min].',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  timestamp?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 128,
    example: 'a1b2c3d4-0001',
    description: 'Idempotency key, unique per site: a repeat is counted as a duplicate and not stored again.',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  eventId?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 256,
    example: 'user-42',
    description: "Id of the client site's signed-in user; stored only as a keyed hash.",
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  userId?: string;

  @ApiPropertyOptional({
    type: String,
    maxLength: 64,
    example: 'pageview',
    default: 'pageview',
    description:
      'Event name: `pageview`, a custom event, or `engagement` (time on page and scroll depth of the page left, ' +
      'kept apart from page views and events: it changes no count).',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  name?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string', maxLength: 256 }, { type: 'number' }, { type: 'boolean' }] },
    maxProperties: MAX_PROPS,
    example: { plan: 'pro', seats: 3 },
    description:
      'Flat custom properties: at most 30 keys (no leading $, no dots), values string ≤ 256 chars, number or boolean.',
  })
  @IsOptional()
  @IsFlatProps()
  props?: HitProps;

  @ApiPropertyOptional({
    type: 'object',
    required: ['currency', 'amount'],
    properties: {
      currency: { type: 'string', pattern: '^[A-Za-z]{3}$', example: 'EUR', description: 'ISO 4217 code' },
      amount: {
        oneOf: [{ type: 'number' }, { type: 'string', pattern: '^-?\\d{1,15}(\\.\\d{1,10})?$' }],
        example: 12.5,
        description: 'A finite number, or a decimal number as a string ("12.50")',
      },
    },
    additionalProperties: false,
    example: { currency: 'EUR', amount: 12.5 },
    description:
      'Revenue of a custom event (not of a `pageview` or `engagement`): stored as `revenueAmount` and ' +
      '`revenueCurrency` (upper-cased). No conversion between currencies is made.',
  })
  @IsOptional()
  @IsRevenue()
  revenue?: RevenueInput;

  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description:
      'For hash-routed single-page apps: keep the URL fragment as part of the page path (`/app#/settings` is ' +
      'stored as `/app#/settings`). By default the fragment is dropped.',
  })
  @IsOptional()
  @IsBoolean()
  hashMode?: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    example: 42000,
    description:
      `Only with \`name: "engagement"\`, and required there: how long the page was visible and focused, in ms. ` +
      `Values above ${MAX_ENGAGEMENT_MS} (30 min) are stored as ${MAX_ENGAGEMENT_MS}.`,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  engagementMs?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 100,
    example: 75,
    description: 'Only with `name: "engagement"`, and required there: the deepest scroll reached, in % of the page.',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  scrollDepth?: number;
}

export class HitBatchDto {
  @ApiProperty({ type: [HitDto], minItems: 1, maxItems: MAX_HITS_PER_REQUEST })
  hits!: HitDto[];
}
