import { Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { CommonModule } from './common/common.module.js';
import { CompatModule } from './compat/compat.module.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { ConfigModule } from './config/config.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { DatabaseModule } from './database/database.module.js';
import { GoalsModule } from './goals/goals.module.js';
import { HealthModule } from './health/health.module.js';
import { IngestionModule } from './ingestion/ingestion.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { SitesModule } from './sites/sites.module.js';
import { StatsModule } from './stats/stats.module.js';

@Module({
  imports: [
    ConfigModule,
    LoggingModule,
    CommonModule,
    DatabaseModule.forRoot({ connectRetries: 9 }),
    HealthModule,
    DashboardModule,
    AuthModule,
    SitesModule,
    GoalsModule,
    MetricsModule,
    IngestionModule,
    CompatModule,
    StatsModule,
    RetentionModule,
  ],
})
export class AppModule {}
