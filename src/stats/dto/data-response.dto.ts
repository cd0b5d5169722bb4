import { ApiProperty } from '@nestjs/swagger';

export class SeriesPointDto {
  @ApiProperty({
    type: String,
    example: '2024-03-01',
    description: 'Day (or the Monday of the week, or the 1st of the month), site time zone',
  })
  date!: string;

  @ApiProperty({ type: 'integer', example: 12 })
  value!: number;
}

export class SeriesResponseDto {
  @ApiProperty({
    type: 'integer',
    example: 42,
    description:
      'users: distinct visitors over the whole range (not a sum of the points); views: page views in the range',
  })
  total!: number;

  @ApiProperty({ type: [SeriesPointDto], description: 'One point per interval in the range, zeros included' })
  series!: SeriesPointDto[];
}

export class CountryRowDto {
  @ApiProperty({
    type: String,
    example: 'Germany',
    description: 'English country name; `Unknown` when the address had no location',
  })
  country!: string;

  @ApiProperty({ type: String, nullable: true, example: 'DE', description: 'ISO 3166-1 alpha-2, null when unknown' })
  countryCode!: string | null;

  @ApiProperty({ type: 'integer', example: 3, description: 'Distinct visitors' })
  users!: number;

  @ApiProperty({ type: 'integer', example: 7, description: 'Page views' })
  views!: number;
}

export class CityRowDto {
  @ApiProperty({ type: String, example: 'Paris', description: '`Unknown` when the address had no city' })
  city!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'IDF',
    description: 'Region (subdivision) code from geoip-lite, null when unknown',
  })
  region!: string | null;

  @ApiProperty({ type: String, example: 'France' })
  country!: string;

  @ApiProperty({ type: String, nullable: true, example: 'FR' })
  countryCode!: string | null;

  @ApiProperty({ type: 'integer', example: 2 })
  users!: number;

  @ApiProperty({ type: 'integer', example: 5 })
  views!: number;
}

export class UrlRowDto {
  @ApiProperty({
    type: String,
    example: '/about',
    description: 'Page path (query and fragment dropped); hosts are merged — see the page_host breakdown',
  })
  url!: string;

  @ApiProperty({ type: 'integer', example: 9 })
  views!: number;

  @ApiProperty({ type: 'integer', example: 4 })
  users!: number;
}

export class HostnameRowDto {
  @ApiProperty({
    type: String,
    example: 'googlebot.com',
    description: 'Registrable domain of the visitor address reverse DNS; `Unknown` when it did not resolve',
  })
  hostname!: string;

  @ApiProperty({ type: 'integer', example: 9 })
  views!: number;

  @ApiProperty({ type: 'integer', example: 1 })
  users!: number;
}
