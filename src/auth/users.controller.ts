import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiJwtProtected } from './decorators/api-protected.decorator.js';
import { Roles } from './decorators/roles.decorator.js';
import { ErrorResponseDto } from './dto/error-response.dto.js';
import { CreateUserDto, UpdateUserDto, UserDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

const ADMIN_ONLY = 'Only admins manage accounts (viewers and site keys get 403)';

@ApiTags('users')
@Roles('admin')
@ApiJwtProtected(ADMIN_ONLY)
@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiOperation({ summary: 'Create an account (admin)' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Invalid field, password under 10 characters, or unknown site id',
  })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The email is taken' })
  async create(@Body() body: CreateUserDto): Promise<UserDto> {
    return UserDto.from(await this.users.createUser(body));
  }

  @Get()
  @ApiOperation({ summary: 'List accounts (admin)' })
  @ApiOkResponse({ type: [UserDto] })
  async list(): Promise<UserDto[]> {
    return (await this.users.list()).map((user) => UserDto.from(user));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an account (admin)' })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such account' })
  async get(@Param('id') id: string): Promise<UserDto> {
    return UserDto.from(await this.users.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an account (admin); a new password signs it out everywhere' })
  @ApiOkResponse({ type: UserDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid field or unknown site id' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such account' })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'The email is taken, or this would demote the last admin',
  })
  async update(@Param('id') id: string, @Body() body: UpdateUserDto): Promise<UserDto> {
    return UserDto.from(await this.users.update(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an account (admin); its tokens stop working at once' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such account' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'It is the last admin' })
  async delete(@Param('id') id: string): Promise<void> {
    await this.users.delete(id);
  }
}
