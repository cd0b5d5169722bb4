import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';
import { MIN_PASSWORD_LENGTH } from '../users.service.js';

export class SetupStatusDto {
  @ApiProperty({
    type: Boolean,
    example: true,
    description: 'True while no account exists: the dashboard then offers to create the first admin',
  })
  needed!: boolean;
}

export class SetupDto {
  @ApiProperty({
    type: String,
    example: '7KQ2-M9XD-4HTR',
    description: 'The one-time setup code the server printed in its log at startup (dashes and case do not matter)',
  })
  @IsString()
  @MaxLength(64)
  setupCode!: string;

  @ApiProperty({ type: String, example: 'admin@example.com', description: 'Login email of the first admin' })
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
}
