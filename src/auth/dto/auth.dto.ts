import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { ROLES, type Role } from '../principal.js';

export class LoginDto {
  @ApiProperty({ type: String, example: 'admin@example.com', description: 'Account email (case-insensitive)' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(320)
  email!: string;

  @ApiProperty({
    type: String,
    format: 'password',
    example: 'correct horse battery staple',
    description: 'Account password',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  password!: string;
}

export class RefreshTokenDto {
  @ApiProperty({ type: String, example: 'q2V0…', description: 'The refresh token from login or the previous refresh' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(512)
  refreshToken!: string;
}

export class TokenPairDto {
  @ApiProperty({ type: String, description: 'JWT (HS256) to send as `Authorization: Bearer <token>`' })
  accessToken!: string;

  @ApiProperty({ type: String, enum: ['Bearer'], example: 'Bearer', description: 'Always Bearer' })
  tokenType!: 'Bearer';

  @ApiProperty({ type: Number, example: 900, description: 'Seconds until the access token expires' })
  expiresIn!: number;

  @ApiProperty({ type: String, description: 'Opaque, single-use token for POST /api/v1/auth/refresh' })
  refreshToken!: string;
}

export class MeDto {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000abcd', description: 'Account id' })
  id!: string;

  @ApiProperty({ type: String, example: 'admin@example.com', description: 'Account email' })
  email!: string;

  @ApiProperty({
    type: String,
    enum: ROLES,
    example: 'admin',
    description: 'admin: everything; viewer: reads its sites',
  })
  role!: Role;

  @ApiProperty({
    type: [String],
    example: ['65f1c0ffee0000000000beef'],
    description: 'Sites a viewer may read (admins read all)',
  })
  siteIds!: string[];
}
