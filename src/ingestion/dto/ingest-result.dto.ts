import { ApiProperty } from '@nestjs/swagger';

export class RejectedHitDto {
  @ApiProperty({ type: Number, example: 2, description: 'Position of the hit in the request (0 for a single hit).' })
  index!: number;

  @ApiProperty({ type: String, example: 'url: url must be shorter than or equal to 2048 characters' })
  error!: string;
}

export class IngestResultDto {
  @ApiProperty({ type: Number, example: 9, description: 'Hits written.' })
  accepted!: number;

  @ApiProperty({ type: Number, example: 1, description: 'Hits whose eventId was already stored for the site.' })
  duplicates!: number;

  @ApiProperty({ type: [RejectedHitDto] })
  rejected!: RejectedHitDto[];
}

/** The 400 answer when no hit of the request is valid: the error shape plus the per-hit detail. */
export class IngestRejectedDto extends IngestResultDto {
  @ApiProperty({ type: Number, example: 400 })
  statusCode!: number;

  @ApiProperty({ type: String, example: 'Bad Request' })
  error!: string;

  @ApiProperty({ type: String, example: 'No valid hit: url: url should not be empty' })
  message!: string;
}
