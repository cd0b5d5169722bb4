import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/**
 * The body of Plausible's `POST /api/event`, for the OpenAPI document. Each field has a short
 * key (in parentheses) that Plausible's trackers send instead; either form is accepted. The body
 * is read by `translatePlausibleEvent`, not by class-validator.
 */
export class PlausibleEventDto {
  @ApiProperty({
    type: String,
    example: 'pageview',
    description: '(`n`) `pageview`, `engagement` or a custom event name',
  })
  name!: string;

  @ApiProperty({ type: String, maxLength: 2000, example: 'https://example.com/pricing', description: '(`u`) Page URL' })
  url!: string;

  @ApiPropertyOptional({
    type: String,
    example: 'example.com',
    description: '(`d`) Site domain, or several separated by commas; defaults to the URL’s host',
  })
  domain?: string;

  @ApiPropertyOptional({ type: String, example: 'https://news.example/a', description: '(`r`) Referrer URL' })
  referrer?: string;

  @ApiPropertyOptional({
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }],
    example: { plan: 'pro' },
    description:
      '(`p`; legacy `meta` / `m`) Custom properties, as an object or a JSON string. Nested values and blank keys or ' +
      'values are dropped; the first 30 are kept.',
  })
  props?: Record<string, unknown> | string;

  @ApiPropertyOptional({
    oneOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }],
    example: { currency: 'EUR', amount: 12.5 },
    description: '(`$`) Revenue of a custom event: `{ currency, amount }`, or a JSON string of it',
  })
  revenue?: Record<string, unknown> | string;

  @ApiPropertyOptional({ type: Boolean, description: '(`i`) Accepted and ignored: no event changes the bounce rate' })
  interactive?: boolean;

  @ApiPropertyOptional({
    oneOf: [{ type: 'integer', enum: [0, 1] }, { type: 'boolean' }],
    example: 1,
    description: '(`h`) 1: keep the URL fragment in the page path (hash-based routing)',
  })
  hashMode?: number | boolean;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Engagement time in ms (only with name `engagement`; missing is 0; stored at most 30 min)',
  })
  e?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Scroll depth in % (only with name `engagement`, and required there; above 100 is 100)',
  })
  sd?: number;
}
