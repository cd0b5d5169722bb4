import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { EngagementsRepository } from './engagements.repository.js';
import { Engagement, EngagementSchema } from './schemas/engagement.schema.js';

/**
 * Owns the `engagements` collection (see Engagement). A module of its own, like HitsModule,
 * so the stats and retention modules can import it without importing the ingest pipeline.
 */
@Module({
  imports: [MongooseModule.forFeature([{ name: Engagement.name, schema: EngagementSchema }])],
  providers: [EngagementsRepository],
  exports: [EngagementsRepository],
})
export class EngagementStoreModule {}
