import { Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { appConfig, authConfig, databaseConfig, trackingConfig } from './configuration.js';

/** Global, validated configuration: inject with `@Inject(authConfig.KEY) config: AuthConfig`. */
@Module({
  imports: [
    NestConfigModule.forRoot({
      isGlobal: true,
      // A developer's .env is read at boot; the test suite never depends on one.
      ignoreEnvFile: process.env.NODE_ENV === 'test',
      load: [appConfig, databaseConfig, authConfig, trackingConfig],
    }),
  ],
})
export class ConfigModule {}
