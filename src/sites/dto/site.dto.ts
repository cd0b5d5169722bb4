import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import type { StoredSite } from '../sites.repository.js';
import { SiteViewDto } from './site-view.dto.js';

export class CreateSiteDto {
  @ApiProperty({
    type: String,
    example: 'example.com',
    description: 'Host name of the site; a scheme or trailing slash is stripped, case is folded',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(253)
  domain!: string;

  @ApiProperty({ type: String, example: 'Example Inc.', description: 'Display name' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({
    type: String,
    example: 'Europe/Berlin',
    default: 'UTC',
    description: 'IANA time zone that defines the calendar days of the statistics',
  })
  @IsOptionalNotNull()
  @IsString()
  timezone?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['https://app.example.net'],
    description: 'Browser origins besides the domain (and its www.) allowed to send hits with the tracker',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  allowedOrigins?: string[];

  @ApiPropertyOptional({ type: Boolean, default: false, description: 'Drop browser hits sent with `DNT: 1`' })
  @IsOptionalNotNull()
  @IsBoolean()
  respectDoNotTrack?: boolean;
}

export class UpdateSiteDto {
  @ApiPropertyOptional({ type: String, example: 'example.com', description: 'Host name of the site' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(253)
  domain?: string;

  @ApiPropertyOptional({ type: String, example: 'Example Inc.', description: 'Display name' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ type: String, example: 'America/New_York', description: 'IANA time zone' })
  @IsOptionalNotNull()
  @IsString()
  timezone?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['https://app.example.net'],
    description: 'Extra allowed browser origins (replaces the list)',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  allowedOrigins?: string[];

  @ApiPropertyOptional({ type: Boolean, description: 'Drop browser hits sent with `DNT: 1`' })
  @IsOptionalNotNull()
  @IsBoolean()
  respectDoNotTrack?: boolean;
}

/** A site as the admin API returns it: its settings (SiteViewDto) plus when it was created. */
export class SiteDto extends SiteViewDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'When the site was created' })
  createdAt!: string;

  static from(site: StoredSite): SiteDto {
    return { ...site, createdAt: site.createdAt.toISOString() };
  }
}
