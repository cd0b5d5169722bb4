import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { Lease, LeaseSchema } from './lease.schema.js';
import { LeaseService } from './lease.service.js';

/** Leases for jobs that exactly one app instance may run at a time (retention; stats rollups may reuse it). */
@Module({
  imports: [MongooseModule.forFeature([{ name: Lease.name, schema: LeaseSchema }])],
  providers: [LeaseService],
  exports: [LeaseService],
})
export class LeaseModule {}
