import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { HydratedDocument } from 'mongoose';
import { EnrichedTraffic } from './enriched-traffic.js';

export { CLASSIFICATIONS, type Classification, type HitProps } from './enriched-traffic.js';
export const PAGEVIEW = 'pageview';

/**
 * One recorded page view or event, enriched at ingest. Raw hits are the source of truth: visits
 * and rollups are derived from them and can be rebuilt.
 */
@Schema({ collection: 'hits', versionKey: false })
export class Hit extends EnrichedTraffic {
  /** `pageview` or a custom event name. */
  @Prop({ required: true })
  name: string;

  /** The visit this hit belongs to; assigned by the sessions module, null until then. */
  @Prop({ type: String, default: null })
  visitId: string | null;

  /** Revenue of a custom event (`revenue.amount`); absent (or null) when none was sent. */
  @Prop({ type: Number })
  revenueAmount?: number | null;

  /** ISO 4217 code of `revenueAmount`, upper-cased; absent (or null) when no revenue was sent. */
  @Prop({ type: String })
  revenueCurrency?: string | null;

  /**
   * Not yet added to the stats rollups: `true` when written (or when its site's rows are rebuilt),
   * the number of the rollup batch that claimed it once claimed, absent once counted. The rollup
   * job finds the hits to add through this flag, so a hit committed late is still counted once.
   */
  @Prop({ type: Object })
  rollupPending?: true | number;
}

export type HitDocument = HydratedDocument<Hit>;
export const HitSchema = SchemaFactory.createForClass(Hit);

// Serves: every stats range query over raw hits, export, purge-before-date, retention.
HitSchema.index({ siteId: 1, ts: 1 });
// Serves: the stats rollup job and reads finding hits received after the rollup watermark (stats/rollups).
HitSchema.index({ receivedAt: 1 });
// Serves: the rollup job's claim of hits not yet counted and its read of a claimed batch (few at a time).
HitSchema.index({ rollupPending: 1 }, { partialFilterExpression: { rollupPending: { $exists: true } } });
// Serves: idempotency — a repeated eventId is a duplicate-key error, never a second document.
HitSchema.index(
  { siteId: 1, eventId: 1 },
  { unique: true, partialFilterExpression: { eventId: { $type: 'string' } }, name: 'siteId_eventId_unique' },
);
// Serves: sessionization (a visitor's hits around a time) and per-visitor user stats.
HitSchema.index({ siteId: 1, visitorKey: 1, ts: 1 });
// Serves: erasure of one identified user (DELETE /sites/:id/users/:userId).
HitSchema.index({ siteId: 1, userKey: 1 }, { partialFilterExpression: { userKey: { $type: 'string' } } });
