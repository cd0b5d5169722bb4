import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIP, IsISO8601, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

export const MAX_TRAFFIC_PER_REQUEST = 200;

const GOOGLEBOT_SMARTPHONE_UA =
  'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.92 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

/** The site-analytics single form: query parameters or a JSON body. */
export class TrafficDto {
  @ApiProperty({ type: String, maxLength: 2048, example: '/' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(2048)
  url!: string;

  @ApiPropertyOptional({
    type: String,
    example: '127.0.0.1',
    description: "The visitor's IP address (defaults to the caller's).",
  })
  @IsOptional()
  @IsIP()
  ip_addr?: string;

  @ApiPropertyOptional({ type: String, maxLength: 1024, example: GOOGLEBOT_SMARTPHONE_UA })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  user_agent?: string;
}

/** One item of the site-analytics batch form. */
export class TrafficItemDto {
  @ApiProperty({ type: String, maxLength: 2048, example: '/blog/hello' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(2048)
  url!: string;

  @ApiPropertyOptional({ type: String, example: '203.0.113.7' })
  @IsOptional()
  @IsIP()
  ip_address?: string;

  @ApiPropertyOptional({ type: String, maxLength: 1024, example: GOOGLEBOT_SMARTPHONE_UA })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  user_agent?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', example: '2024-03-01T12:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  timestamp?: string;
}

export class TrafficBatchDto {
  @ApiProperty({ type: [TrafficItemDto], minItems: 1, maxItems: MAX_TRAFFIC_PER_REQUEST })
  traffic!: TrafficItemDto[];
}
