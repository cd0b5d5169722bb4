import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuthModule } from '../auth/auth.module.js';
import { GoalsController } from './goals.controller.js';
import { GoalsRepository } from './goals.repository.js';
import { GoalsService } from './goals.service.js';
import { Goal, GoalSchema } from './schemas/goal.schema.js';

/**
 * Goals per site (the `goals` collection) and what each one matches. Exports `GoalsService`:
 * the stats queries and funnels resolve goals and their match expressions through it.
 */
@Module({
  imports: [AuthModule, MongooseModule.forFeature([{ name: Goal.name, schema: GoalSchema }])],
  controllers: [GoalsController],
  providers: [GoalsRepository, GoalsService],
  exports: [GoalsService],
})
export class GoalsModule {}
