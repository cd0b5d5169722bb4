import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AnalyticsService } from './analytics.service.js';
import { SeedDataController } from './seed-data.controller.js';
import { SeedDataService } from './seed-data.service.js';
import { StatsEngine } from './stats-engine.service.js';
import { StatsScopeService } from './stats-scope.service.js';
import { StatsController } from './stats.controller.js';
import { StatsRepository } from './stats.repository.js';

/** Every read endpoint: the seed data API, analytics, user stats. Exports the engine for the dashboard. */
@Module({
  imports: [AuthModule, SessionsModule],
  controllers: [SeedDataController, StatsController],
  providers: [StatsRepository, StatsEngine, StatsScopeService, SeedDataService, AnalyticsService],
  exports: [AnalyticsService],
})
export class StatsModule {}
