import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { MongooseModule } from '@nestjs/mongoose';
import { PassportModule } from '@nestjs/passport';
import { authConfig, type AuthConfig } from '../config/configuration.js';
import { SitesModule } from '../sites/sites.module.js';
import { AccessGuard } from './access.guard.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { FirstRunService } from './first-run.service.js';
import { JwtStrategy } from './jwt.strategy.js';
import { LoginFailuresRepository } from './login-failures.repository.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { ReadableSiteController } from './readable-site.controller.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { LoginFailure, LoginFailureSchema } from './schemas/login-failure.schema.js';
import { RefreshToken, RefreshTokenSchema } from './schemas/refresh-token.schema.js';
import { User, UserSchema } from './schemas/user.schema.js';
import { SetupController } from './setup.controller.js';
import { SiteAccessService } from './site-access.service.js';
import { UsersController } from './users.controller.js';
import { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

/**
 * Accounts, login, tokens, the first-run setup and the global default-deny guard. Exports
 * `UsersService` (the CLI creates accounts through it), `SiteAccessService` (every read endpoint
 * resolves its site through it) and `FirstRunService` (the boot line issues the setup code).
 */
@Module({
  imports: [
    SitesModule,
    PassportModule.register({ defaultStrategy: 'jwt', session: false }),
    JwtModule.registerAsync({
      inject: [authConfig.KEY],
      useFactory: (config: AuthConfig) => ({
        secret: config.jwtSecret,
        signOptions: { algorithm: 'HS256', issuer: config.issuer, audience: config.audience },
        verifyOptions: { algorithms: ['HS256'], issuer: config.issuer, audience: config.audience },
      }),
    }),
    MongooseModule.forFeature([
      { name: User.name, schema: UserSchema },
      { name: RefreshToken.name, schema: RefreshTokenSchema },
      { name: LoginFailure.name, schema: LoginFailureSchema },
    ]),
  ],
  controllers: [AuthController, SetupController, UsersController, ReadableSiteController],
  providers: [
    UsersRepository,
    RefreshTokensRepository,
    LoginFailuresRepository,
    UsersService,
    LoginThrottleService,
    AuthService,
    FirstRunService,
    JwtStrategy,
    SiteAccessService,
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
  exports: [UsersService, SiteAccessService, FirstRunService],
})
export class AuthModule {}
