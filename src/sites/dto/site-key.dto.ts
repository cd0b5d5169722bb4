import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMinSize, IsArray, IsIn } from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import { KEY_SCOPES, type KeyScope } from '../../auth/principal.js';
import type { StoredSiteKey } from '../site-keys.repository.js';
import type { IssuedKey } from '../sites.service.js';

export class CreateSiteKeyDto {
  @ApiPropertyOptional({
    type: [String],
    enum: KEY_SCOPES,
    isArray: true,
    default: ['ingest'],
    example: ['ingest', 'read'],
    description: '`ingest`: send hits for the site; `read`: read the statistics of this one site',
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(KEY_SCOPES, { each: true })
  scopes?: KeyScope[];
}

export class SiteKeyDto {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000beef', description: 'Key id' })
  id!: string;

  @ApiProperty({ type: String, example: 'sk_Ab12Cd', description: 'First characters of the key, to recognise it' })
  prefix!: string;

  @ApiProperty({
    type: [String],
    enum: KEY_SCOPES,
    isArray: true,
    example: ['ingest'],
    description: 'What the key may do',
  })
  scopes!: KeyScope[];

  @ApiProperty({ type: String, format: 'date-time', description: 'When the key was issued' })
  createdAt!: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the key was revoked, null while active',
  })
  revokedAt!: string | null;

  static from(key: StoredSiteKey): SiteKeyDto {
    return {
      id: key.id,
      prefix: key.prefix,
      scopes: key.scopes,
      createdAt: key.createdAt.toISOString(),
      revokedAt: key.revokedAt ? key.revokedAt.toISOString() : null,
    };
  }
}

export class IssuedSiteKeyDto {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000beef', description: 'Key id' })
  id!: string;

  @ApiProperty({
    type: String,
    example: 'sk_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv1',
    description: 'The key itself. Shown this once; only its hash is stored.',
  })
  key!: string;

  @ApiProperty({
    type: [String],
    enum: KEY_SCOPES,
    isArray: true,
    example: ['ingest'],
    description: 'What the key may do',
  })
  scopes!: KeyScope[];

  @ApiProperty({
    type: String,
    example: 'sk_Ab12Cd',
    description: 'First characters of the key, as key listings show it',
  })
  prefix!: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'When the key was issued' })
  createdAt!: string;

  static from(issued: IssuedKey): IssuedSiteKeyDto {
    return { ...issued, createdAt: issued.createdAt.toISOString() };
  }
}
