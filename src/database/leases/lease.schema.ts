import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { HydratedDocument } from 'mongoose';

/**
 * The right to run one cluster-wide job (retention, rollups) until `expiresAt`. One document per
 * job name; whoever holds an unexpired lease runs the job, an expired one can be taken over.
 */
@Schema({ collection: 'leases', versionKey: false })
export class Lease {
  /** The job's name, e.g. `retention`. */
  @Prop({ type: String, required: true })
  _id: string;

  /** Opaque id of the holding process. */
  @Prop({ type: String, required: true })
  holder: string;

  @Prop({ type: Date, required: true })
  expiresAt: Date;
}

export type LeaseDocument = HydratedDocument<Lease>;
// No secondary index: every query is by `_id`.
export const LeaseSchema = SchemaFactory.createForClass(Lease);
