import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuthModule } from '../auth/auth.module.js';
import { GoalsModule } from '../goals/goals.module.js';
import { Segment, SegmentSchema } from './schemas/segment.schema.js';
import { SegmentsController } from './segments.controller.js';
import { SegmentsService } from './segments.service.js';

/**
 * Saved segments (docs/segments.md): owns the `segments` collection. Exports `SegmentsService`,
 * through which every stats read turns a `segment` id into filters. Reads goals through
 * `GoalsService`: the goals a segment filters on are checked on save and named by id.
 */
@Module({
  imports: [AuthModule, GoalsModule, MongooseModule.forFeature([{ name: Segment.name, schema: SegmentSchema }])],
  controllers: [SegmentsController],
  providers: [SegmentsService],
  exports: [SegmentsService],
})
export class SegmentsModule {}
