import { ApiProperty } from '@nestjs/swagger';
import type { SiteView } from '../site-view.js';

export class SiteViewDto implements SiteView {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000abcd', description: 'Site id' })
  id!: string;

  @ApiProperty({ type: String, example: 'example.com', description: 'Host name' })
  domain!: string;

  @ApiProperty({ type: String, example: 'Example Inc.', description: 'Display name' })
  name!: string;

  @ApiProperty({ type: String, example: 'Europe/Berlin', description: 'IANA time zone of the statistics' })
  timezone!: string;

  @ApiProperty({ type: [String], example: ['https://app.example.net'], description: 'Extra allowed browser origins' })
  allowedOrigins!: string[];

  @ApiProperty({ type: Boolean, example: false, description: 'Whether browser hits with `DNT: 1` are dropped' })
  respectDoNotTrack!: boolean;
}
