import { ApiExtraModels, ApiProperty, getSchemaPath } from '@nestjs/swagger';

/** One checked dependency (today only `mongodb`). */
export class HealthIndicatorStateDto {
  @ApiProperty({ enum: ['up', 'down'], example: 'up' })
  status!: 'up' | 'down';

  @ApiProperty({ type: String, required: false, example: 'No answer within 1500 ms', description: 'Why it is down' })
  message?: string;
}

const BY_INDICATOR = (example: Record<string, HealthIndicatorStateDto>, description: string) =>
  ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(HealthIndicatorStateDto) },
    example,
    description,
  });

/** `200` of `/health/live` and `/health/ready` (the shape of @nestjs/terminus' result). */
@ApiExtraModels(HealthIndicatorStateDto)
export class HealthResponseDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';

  @BY_INDICATOR({ mongodb: { status: 'up' } }, 'The indicators that are up')
  info!: Record<string, HealthIndicatorStateDto>;

  @BY_INDICATOR({}, 'The indicators that are down (none)')
  error!: Record<string, HealthIndicatorStateDto>;

  @BY_INDICATOR({ mongodb: { status: 'up' } }, 'Every indicator checked')
  details!: Record<string, HealthIndicatorStateDto>;
}

/**
 * `503` of a failed check or of an instance shutting down: the common error shape
 * (`statusCode`, `error`, `message`), with every indicator in `details`.
 */
@ApiExtraModels(HealthIndicatorStateDto)
export class HealthUnavailableResponseDto {
  @ApiProperty({ type: Number, example: 503 })
  statusCode!: number;

  @ApiProperty({ type: String, example: 'Service Unavailable' })
  error!: string;

  @ApiProperty({ type: String, example: 'Service Unavailable Exception' })
  message!: string;

  @BY_INDICATOR({ mongodb: { status: 'down', message: 'No answer within 1500 ms' } }, 'Every indicator checked')
  details!: Record<string, HealthIndicatorStateDto>;
}
