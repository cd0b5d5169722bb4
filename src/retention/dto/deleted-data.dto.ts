import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';

export class PurgeDataQueryDto {
  @ApiProperty({
    type: String,
    example: '2024-03-01',
    description:
      "Delete everything recorded before this day (YYYY-MM-DD), which starts at midnight in the site's time zone.",
  })
  @Matches(/^\d{4}-\d{1,2}-\d{1,2}$/, { message: 'before must be a date YYYY-MM-DD' })
  before!: string;
}

export class DeletedCountsDto {
  @ApiProperty({ type: Number, example: 1520, description: 'Raw hits removed' })
  hits!: number;

  @ApiProperty({
    type: Number,
    example: 310,
    description: 'Visits (sessions) removed; visits cut by a purge date are recomputed from the hits left',
  })
  visits!: number;

  @ApiProperty({ type: Number, example: 980, description: 'Engagement records (time on page, scroll depth) removed' })
  engagements!: number;
}

export class DeletedDataDto {
  @ApiProperty({ type: DeletedCountsDto, description: 'Documents removed per collection' })
  deleted!: DeletedCountsDto;
}

export class PurgedDataDto extends DeletedDataDto {
  @ApiProperty({
    type: String,
    format: 'date-time',
    example: '2024-02-29T23:00:00.000Z',
    description: 'The cut-off instant: data before it was removed',
  })
  before!: string;
}
