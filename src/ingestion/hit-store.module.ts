import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { HitsRepository } from './hits.repository.js';
import { Hit, HitSchema } from './schemas/hit.schema.js';

/**
 * Owns the `hits` collection. Split from IngestionModule so the sessions module can read and
 * stamp hits without a circular import (ingestion → sessions → hits).
 */
@Module({
  imports: [MongooseModule.forFeature([{ name: Hit.name, schema: HitSchema }])],
  providers: [HitsRepository],
  exports: [HitsRepository],
})
export class HitStoreModule {}
