import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsEmail, IsIn, IsMongoId, IsString, MaxLength, MinLength } from 'class-validator';
import { IsOptionalNotNull } from '../../common/decorators/is-optional-not-null.decorator.js';
import { ROLES, type Role } from '../principal.js';
import { MIN_PASSWORD_LENGTH, type UserView } from '../users.service.js';

export class CreateUserDto {
  @ApiProperty({ type: String, example: 'viewer@example.com', description: 'Login email, stored lower-cased' })
  @IsEmail()
  @MaxLength(320)
  email!: string;

  @ApiProperty({
    type: String,
    format: 'password',
    minLength: MIN_PASSWORD_LENGTH,
    example: 'a long passphrase',
    description: 'At least 10 characters',
  })
  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1024)
  password!: string;

  @ApiProperty({
    type: String,
    enum: ROLES,
    example: 'viewer',
    description: 'admin: everything; viewer: reads the sites in siteIds',
  })
  @IsIn(ROLES)
  role!: Role;

  @ApiPropertyOptional({
    type: [String],
    example: ['65f1c0ffee0000000000beef'],
    default: [],
    description: 'Sites a viewer may read',
  })
  @IsOptionalNotNull()
  @IsArray()
  @IsMongoId({ each: true })
  siteIds?: string[];
}

export class UpdateUserDto {
  @ApiPropertyOptional({ type: String, example: 'viewer@example.com', description: 'New login email' })
  @IsOptionalNotNull()
  @IsEmail()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'password',
    minLength: MIN_PASSWORD_LENGTH,
    description: 'New password; signs the account out everywhere',
  })
  @IsOptionalNotNull()
  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1024)
  password?: string;

  @ApiPropertyOptional({
    type: String,
    enum: ROLES,
    example: 'admin',
    description: 'New role (the last admin cannot be demoted)',
  })
  @IsOptionalNotNull()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({
    type: [String],
    example: ['65f1c0ffee0000000000beef'],
    description: 'Sites a viewer may read (replaces the list)',
  })
  @IsOptionalNotNull()
  @IsArray()
  @IsMongoId({ each: true })
  siteIds?: string[];
}

export class UserDto {
  @ApiProperty({ type: String, example: '65f1c0ffee0000000000abcd', description: 'Account id' })
  id!: string;

  @ApiProperty({ type: String, example: 'viewer@example.com', description: 'Login email' })
  email!: string;

  @ApiProperty({ type: String, enum: ROLES, example: 'viewer', description: 'Role' })
  role!: Role;

  @ApiProperty({ type: [String], example: ['65f1c0ffee0000000000beef'], description: 'Sites a viewer may read' })
  siteIds!: string[];

  @ApiProperty({ type: String, format: 'date-time', description: 'When the account was created' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'When the account last changed' })
  updatedAt!: string;

  static from(user: UserView): UserDto {
    return { ...user, createdAt: user.createdAt.toISOString(), updatedAt: user.updatedAt.toISOString() };
  }
}
