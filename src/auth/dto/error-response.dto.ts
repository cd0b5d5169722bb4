import { ApiProperty } from '@nestjs/swagger';

/** The JSON error shape of every non-2xx response (docs/api.md, "Errors"). */
export class ErrorResponseDto {
  @ApiProperty({ type: Number, example: 401, description: 'HTTP status code' })
  statusCode!: number;

  @ApiProperty({ type: String, example: 'Unauthorized', description: 'HTTP status text' })
  error!: string;

  @ApiProperty({
    type: String,
    example: 'Missing credentials',
    description: 'What went wrong, naming the field when relevant',
  })
  message!: string;
}
