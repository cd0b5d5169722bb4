import { Module } from '@nestjs/common';
import { CommonModule } from './common/common.module.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';

@Module({
  imports: [ConfigModule, LoggingModule, CommonModule, DatabaseModule, HealthModule],
})
export class AppModule {}
