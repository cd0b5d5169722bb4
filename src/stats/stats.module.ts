import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuthModule } from '../auth/auth.module.js';
import { FunnelsModule } from '../funnels/funnels.module.js';
import { GoalsModule } from '../goals/goals.module.js';
import { EngagementStoreModule } from '../ingestion/engagement-store.module.js';
import { HitsModule } from '../hits/hits.module.js';
import { LeaseModule } from '../database/leases/lease.module.js';
import { DataPurgeModule } from '../retention/data-purge.module.js';
import { SegmentsModule } from '../segments/segments.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SitesModule } from '../sites/sites.module.js';
import { AnalyticsService } from './analytics.service.js';
import { ConversionsService } from './conversions.service.js';
import { DataController } from './data.controller.js';
import { DataService } from './data.service.js';
import { StatsEngine } from './stats-engine.service.js';
import { StatsScopeService } from './stats-scope.service.js';
import { V2QueryController } from './plausible/v2-query.controller.js';
import { V2QueryService } from './plausible/v2-query.service.js';
import { StatsController } from './stats.controller.js';
import { FunnelStatsController } from './funnels/funnel-stats.controller.js';
import { FunnelStatsService } from './funnels/funnel-stats.service.js';
import { StatsRepository } from './stats.repository.js';
import { RollupCoverageService } from './rollups/rollup-coverage.service.js';
import { RollupState, RollupStateSchema } from './rollups/rollup-state.schema.js';
import { RollupInvalidationListener } from './rollups/rollup-invalidation.listener.js';
import { RollupJob } from './rollups/rollup.job.js';
import { RollupRepository } from './rollups/rollup.repository.js';
import { HitDay, HitDaySchema } from './rollups/hit-day.schema.js';
import { HitHour, HitHourSchema } from './rollups/hit-hour.schema.js';
import { VisitHour, VisitHourSchema } from './rollups/visit-hour.schema.js';
import { VisitSourceDay, VisitSourceDaySchema } from './rollups/visit-source.schema.js';
import { VisitContributionRow, VisitContributionRowSchema } from './rollups/visit-contribution.schema.js';
import { VisitorDay, VisitorDaySchema } from './rollups/visitor-day.schema.js';
import { VisitorSetRow, VisitorSetRowSchema } from './rollups/visitor-set.schema.js';
import { VisitorCountRow, VisitorCountRowSchema } from './rollups/visitor-count.schema.js';
import { VisitorCountsBuilder } from './rollups/visitor-counts.builder.js';
import { GoalConversionsBuilder } from './rollups/goal-conversions.builder.js';
import { GoalRowsRepository } from './rollups/goal-rows.repository.js';
import {
  GoalCountRow,
  GoalCountRowSchema,
  GoalMemberRow,
  GoalMemberRowSchema,
  GoalRowsState,
  GoalRowsStateSchema,
  GoalValueCountRow,
  GoalValueCountRowSchema,
  GoalValueMemberRow,
  GoalValueMemberRowSchema,
} from './rollups/goal-rows.schema.js';
import { FunnelRowsBuilder } from './rollups/funnel-rows.builder.js';
import { FunnelRowsRepository } from './rollups/funnel-rows.repository.js';
import {
  FunnelCountRow,
  FunnelCountRowSchema,
  FunnelRowsState,
  FunnelRowsStateSchema,
  FunnelVisitorRow,
  FunnelVisitorRowSchema,
  FunnelVisitRow,
  FunnelVisitRowSchema,
} from './rollups/funnel-rows.schema.js';

/**
 * Every read endpoint: the `/api/v1/data/*` API, analytics, user stats; and the rollups behind them.
 * Exports the analytics service (dashboard).
 */
@Module({
  imports: [
    AuthModule,
    EngagementStoreModule,
    FunnelsModule,
    HitsModule,
    GoalsModule,
    LeaseModule,
    SegmentsModule,
    SessionsModule,
    SitesModule,
    DataPurgeModule,
    MongooseModule.forFeature([
      { name: VisitorDay.name, schema: VisitorDaySchema },
      { name: VisitorSetRow.name, schema: VisitorSetRowSchema },
      { name: VisitHour.name, schema: VisitHourSchema },
      { name: VisitSourceDay.name, schema: VisitSourceDaySchema },
      { name: HitHour.name, schema: HitHourSchema },
      { name: HitDay.name, schema: HitDaySchema },
      { name: RollupState.name, schema: RollupStateSchema },
      { name: GoalMemberRow.name, schema: GoalMemberRowSchema },
      { name: GoalCountRow.name, schema: GoalCountRowSchema },
      { name: GoalValueMemberRow.name, schema: GoalValueMemberRowSchema },
      { name: GoalValueCountRow.name, schema: GoalValueCountRowSchema },
      { name: GoalRowsState.name, schema: GoalRowsStateSchema },
      { name: FunnelVisitRow.name, schema: FunnelVisitRowSchema },
      { name: FunnelVisitorRow.name, schema: FunnelVisitorRowSchema },
      { name: FunnelCountRow.name, schema: FunnelCountRowSchema },
      { name: FunnelRowsState.name, schema: FunnelRowsStateSchema },
      { name: VisitorCountRow.name, schema: VisitorCountRowSchema },
      { name: VisitContributionRow.name, schema: VisitContributionRowSchema },
    ]),
  ],
  controllers: [DataController, StatsController, FunnelStatsController, V2QueryController],
  providers: [
    StatsRepository,
    RollupRepository,
    RollupCoverageService,
    RollupJob,
    GoalRowsRepository,
    GoalConversionsBuilder,
    FunnelRowsRepository,
    FunnelRowsBuilder,
    VisitorCountsBuilder,
    RollupInvalidationListener,
    StatsEngine,
    ConversionsService,
    StatsScopeService,
    DataService,
    AnalyticsService,
    V2QueryService,
    FunnelStatsService,
  ],
  exports: [AnalyticsService],
})
export class StatsModule {}
