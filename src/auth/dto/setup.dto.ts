import { ApiProperty, PickType } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { CreateUserDto } from './user.dto.js';

export class SetupStatusDto {
  @ApiProperty({
    type: Boolean,
    example: true,
    description: 'True while no account exists: the dashboard then offers to create the first admin',
  })
  needed!: boolean;
}

/** The first admin's email and password, under the same rules as any account's, and the setup code. */
export class SetupDto extends PickType(CreateUserDto, ['email', 'password'] as const) {
  @ApiProperty({
    type: String,
    example: '7KQ2-M9XD-4HTR',
    description: 'The one-time setup code the server printed in its log at startup (dashes and case do not matter)',
  })
  @IsString()
  @MaxLength(64)
  setupCode!: string;
}
