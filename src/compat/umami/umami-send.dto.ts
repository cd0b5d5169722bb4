import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Umami's event payload, for the OpenAPI document (read by `translateUmamiSend`, not class-validator). */
export class UmamiPayloadDto {
  @ApiProperty({ type: String, example: '665f1c2e9b1d8a0012345678', description: 'The Siteline site id' })
  website!: string;

  @ApiPropertyOptional({ type: String, example: 'example.com', description: 'Host the `url` path is resolved on' })
  hostname?: string;

  @ApiPropertyOptional({
    type: String,
    example: '/pricing?utm_source=newsletter',
    description: 'Path or full URL; its fragment is kept in the page path, as Umami does. Without it: `/`',
  })
  url?: string;

  @ApiPropertyOptional({ type: String, example: 'https://news.example/a' })
  referrer?: string;

  @ApiPropertyOptional({ type: String, example: 'signup', description: 'Custom event name; without it, a page view' })
  name?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { plan: 'pro' },
    description: 'Event data → props: scalars kept, nested values kept as JSON text, nulls dropped (at most 30)',
  })
  data?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: String,
    description: 'Distinct id of a signed-in user → userId (stored as a keyed hash)',
  })
  id?: string;

  @ApiPropertyOptional({ type: String, description: 'Overrides the User-Agent header' })
  userAgent?: string;

  @ApiPropertyOptional({ type: String, description: 'Accepted, not stored' })
  title?: string;

  @ApiPropertyOptional({ type: String, description: 'Accepted, not stored' })
  language?: string;

  @ApiPropertyOptional({ type: String, description: 'Accepted, not stored' })
  screen?: string;
}

export class UmamiSendDto {
  @ApiProperty({ enum: ['event', 'identify'], description: '`identify` is acknowledged and not stored' })
  type!: 'event' | 'identify';

  @ApiProperty({ type: UmamiPayloadDto })
  payload!: UmamiPayloadDto;
}

export class UmamiSendResultDto {
  @ApiProperty({ type: Number, example: 1, description: 'Hits written' })
  accepted!: number;

  @ApiProperty({ type: Number, example: 0, description: 'Repeats of an already stored hit' })
  duplicates!: number;
}

class UmamiErrorBodyDto {
  @ApiProperty({ type: String, example: 'Website not found.' })
  message!: string;

  @ApiProperty({ type: String, example: 'bad-request' })
  code!: string;

  @ApiProperty({ type: Number, example: 400 })
  status!: number;
}

export class UmamiErrorDto {
  @ApiProperty({ type: Number, example: 400, description: 'The HTTP status, as on every Siteline error' })
  statusCode!: number;

  @ApiProperty({ type: String, example: 'Website not found.', description: 'The same message as `error.message`' })
  message!: string;

  @ApiProperty({ type: UmamiErrorBodyDto })
  error!: UmamiErrorBodyDto;
}

class UmamiBatchFailureDto {
  @ApiProperty({ type: Number, description: 'Position in the request array' })
  index!: number;

  @ApiProperty({ type: UmamiErrorDto })
  response!: UmamiErrorDto;
}

export class UmamiBatchResultDto {
  @ApiProperty({ type: Number, example: 3 })
  size!: number;

  @ApiProperty({ type: Number, example: 2 })
  processed!: number;

  @ApiProperty({ type: Number, example: 1 })
  errors!: number;

  @ApiProperty({ type: [UmamiBatchFailureDto] })
  details!: UmamiBatchFailureDto[];
}
