import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuthModule } from '../auth/auth.module.js';
import { GoalsModule } from '../goals/goals.module.js';
import { Funnel, FunnelSchema } from './schemas/funnel.schema.js';
import { FunnelsController } from './funnels.controller.js';
import { FunnelsService } from './funnels.service.js';

/**
 * Funnels (docs/funnels.md): owns the `funnels` collection, reads goals through GoalsService.
 * Exports `FunnelsService`, through which the stats module reads a funnel's steps to evaluate it.
 */
@Module({
  imports: [AuthModule, GoalsModule, MongooseModule.forFeature([{ name: Funnel.name, schema: FunnelSchema }])],
  controllers: [FunnelsController],
  providers: [FunnelsService],
  exports: [FunnelsService],
})
export class FunnelsModule {}
