import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { HitsRepository } from './hits.repository.js';
import { Hit, HitSchema } from './hit.schema.js';

/**
 * Owns the `hits` collection: its schema, classifications (`hit.schema.ts`) and the repository
 * every other module goes through (ingestion writes, sessions stamp visits, stats claims batches
 * and aggregates, retention deletes). A module of its own so none of them imports another's
 * internals and ingestion → sessions → hits has no cycle.
 */
@Module({
  imports: [MongooseModule.forFeature([{ name: Hit.name, schema: HitSchema }])],
  providers: [HitsRepository],
  exports: [HitsRepository],
})
export class HitsModule {}
