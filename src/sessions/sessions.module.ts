import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { HitsModule } from '../hits/hits.module.js';
import { Visit, VisitSchema } from './schemas/visit.schema.js';
import { VisitChange, VisitChangeSchema } from './schemas/visit-change.schema.js';
import { VisitorDirty, VisitorDirtySchema } from './schemas/visitor-dirty.schema.js';
import { SessionsService } from './sessions.service.js';
import { VisitorDirtyRepository } from './visitor-dirty.repository.js';
import { VisitChangesRepository } from './visit-changes.repository.js';
import { VisitsRepository } from './visits.repository.js';

@Module({
  imports: [
    HitsModule,
    MongooseModule.forFeature([
      { name: Visit.name, schema: VisitSchema },
      { name: VisitorDirty.name, schema: VisitorDirtySchema },
      { name: VisitChange.name, schema: VisitChangeSchema },
    ]),
  ],
  providers: [SessionsService, VisitsRepository, VisitorDirtyRepository, VisitChangesRepository],
  exports: [SessionsService],
})
export class SessionsModule {}
