import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { Types, type Model } from 'mongoose';
import { bulkWriteInSlices } from '../../database/slices.js';
import {
  addToEntry,
  goalRowId,
  type GoalCountDelta,
  type GoalCountEntry,
  type GoalCountTally,
  type GoalMembership,
} from './goal-counts.js';
import {
  GoalCountRow,
  GoalMemberRow,
  GoalRowsState,
  GoalValueCountRow,
  GoalValueMemberRow,
} from './goal-rows.schema.js';
import { goalValueSeriesKey, parseGoalValueSeriesKey, type GoalValueDimension } from './goal-value-series.js';

/** Keys per `$in` and documents per write: bounded commands, so none holds the store long. */
const CHUNK = 500;

type CountDocument = GoalCountRow;

/** A goal whose rows are complete, in the zone they were built in, with value rows for `dimensions`. */
export interface ReadyGoal {
  goalId: string;
  timezone: string;
  dimensions: string[];
}

/** A value count entry as a breakdown reads it. */
export type GoalValueCountEntry = GoalCountEntry & { goalId: string; value: string | null };

const chunks = <T>(items: readonly T[]): T[][] =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_value, index) =>
    items.slice(index * CHUNK, (index + 1) * CHUNK),
  );

/**
 * The conversion rows (stats_goal_members, stats_goal_counts, stats_goal_states), written only by
 * the rollup job through GoalConversionsBuilder and read by goal queries.
 */
@Injectable()
export class GoalRowsRepository {
  constructor(
    @InjectModel(GoalMemberRow.name) private readonly members: Model<GoalMemberRow>,
    @InjectModel(GoalCountRow.name) private readonly counts: Model<GoalCountRow>,
    @InjectModel(GoalRowsState.name) private readonly states: Model<GoalRowsState>,
    @InjectModel(GoalValueMemberRow.name) private readonly valueMembers: Model<GoalValueMemberRow>,
    @InjectModel(GoalValueCountRow.name) private readonly valueCounts: Model<GoalValueCountRow>,
  ) {}

  /** The goals of these sites whose rows are complete. */
  async findReadyGoals(siteIds: readonly string[]): Promise<Map<string, ReadyGoal[]>> {
    const docs = await this.states.find({ siteId: { $in: siteIds.map((id) => new Types.ObjectId(id)) } }).lean();
    const bySite = new Map<string, ReadyGoal[]>();
    for (const doc of docs) {
      const list = bySite.get(doc.siteId.toHexString()) ?? [];
      list.push({ goalId: doc._id, timezone: doc.timezone, dimensions: doc.dimensions ?? [] });
      bySite.set(doc.siteId.toHexString(), list);
    }
    return bySite;
  }

  /**
   * Records the batch's conversion days, each created once (`firstBatch` set on insert): a replay
   * meets the same documents and changes nothing.
   */
  async upsertMembers(siteId: string, batch: number, memberships: readonly GoalMembership[]): Promise<string[]> {
    const site = new Types.ObjectId(siteId);
    const ids: string[] = [];
    for (const chunk of chunks(memberships)) {
      const operations: Array<AnyBulkWriteOperation<GoalMemberRow>> = chunk.map((membership) => {
        const _id = memberId(siteId, membership);
        ids.push(_id);
        return {
          updateOne: {
            filter: { _id },
            update: { $setOnInsert: { siteId: site, ...membership, firstBatch: batch } },
            upsert: true,
          },
        };
      });
      // Two concurrent upserts of one new _id: the other one created it.
      await bulkWriteInSlices(this.memberRows, operations, { duplicatesApplied: true });
    }
    return ids;
  }

  /** As `upsertMembers`, for the value memberships (goalId holding the value series, goalValueSeriesKey). */
  async upsertValueMembers(siteId: string, batch: number, memberships: readonly GoalMembership[]): Promise<string[]> {
    const site = new Types.ObjectId(siteId);
    const ids: string[] = [];
    for (const chunk of chunks(memberships)) {
      const operations: Array<AnyBulkWriteOperation<GoalValueMemberRow>> = chunk.map((membership) => {
        const _id = valueMemberId(siteId, membership);
        ids.push(_id);
        return {
          updateOne: {
            filter: { _id },
            update: { $setOnInsert: { siteId: site, ...valueMembershipFields(membership), firstBatch: batch } },
            upsert: true,
          },
        };
      });
      await bulkWriteInSlices(this.valueMemberRows, operations, { duplicatesApplied: true });
    }
    return ids;
  }

  /** Of the given value membership documents, those batch `batch` created (goalId: the value series). */
  async findValueCreatedBy(batch: number, ids: readonly string[]): Promise<GoalMembership[]> {
    const found: GoalMembership[] = [];
    for (const chunk of chunks(ids))
      for (const doc of await this.valueMemberRows.find({ _id: { $in: chunk }, firstBatch: batch }).toArray())
        found.push({
          goalId: goalValueSeriesKey({
            goalId: doc.goalId,
            dimension: doc.dimension as GoalValueDimension,
            value: doc.value ?? null,
          }),
          classification: doc.classification,
          visitorKey: doc.visitorKey,
          day: doc.day,
        });
    return found;
  }

  /** Every conversion day of these visitors on this goal, dimension and classification: value series → visitor → days. */
  async findValueHistories(
    siteId: string,
    goalId: string,
    dimension: GoalValueDimension,
    classification: string,
    visitorKeys: readonly string[],
  ): Promise<Map<string, Map<string, string[]>>> {
    const histories = new Map<string, Map<string, string[]>>();
    for (const chunk of chunks(visitorKeys))
      for (const doc of await this.valueMemberRows
        .find(
          { siteId: new Types.ObjectId(siteId), goalId, dimension, classification, visitorKey: { $in: chunk } },
          { projection: { _id: 0, value: 1, visitorKey: 1, day: 1 } },
        )
        .toArray()) {
        const series = goalValueSeriesKey({ goalId, dimension, value: doc.value ?? null });
        const visitors = histories.get(series) ?? new Map<string, string[]>();
        const days = visitors.get(doc.visitorKey) ?? [];
        days.push(doc.day);
        visitors.set(doc.visitorKey, days);
        histories.set(series, visitors);
      }
    return histories;
  }

  /** Of the given membership documents, those batch `batch` created. */
  async findCreatedBy(batch: number, ids: readonly string[]): Promise<GoalMembership[]> {
    const found: GoalMembership[] = [];
    for (const chunk of chunks(ids))
      for (const doc of await this.memberRows
        .find(
          { _id: { $in: chunk }, firstBatch: batch },
          { projection: { _id: 0, goalId: 1, classification: 1, visitorKey: 1, day: 1 } },
        )
        .toArray())
        found.push(doc);
    return found;
  }

  /** Every conversion day of these visitors on this goal and classification. */
  async findHistories(
    siteId: string,
    goalId: string,
    classification: string,
    visitorKeys: readonly string[],
  ): Promise<Map<string, string[]>> {
    const histories = new Map<string, string[]>();
    for (const chunk of chunks(visitorKeys))
      for (const doc of await this.memberRows
        .find(
          { siteId: new Types.ObjectId(siteId), goalId, classification, visitorKey: { $in: chunk } },
          { projection: { _id: 0, visitorKey: 1, day: 1 } },
        )
        .toArray()) {
        const days = histories.get(doc.visitorKey) ?? [];
        days.push(doc.day);
        histories.set(doc.visitorKey, days);
      }
    return histories;
  }

  /**
   * Adds a batch's count deltas, once per count document: read, added to, and written filtered on
   * `lastBatch < batch` and stamped with it, so applying the batch again changes only the
   * documents the first attempt did not reach (as RollupRepository.applyCountDeltas).
   */
  async applyCountDeltas(siteId: string, batch: number, tally: GoalCountTally): Promise<void> {
    await this.applyDeltasOnce(
      this.countRows,
      siteId,
      batch,
      [...tally.values()].map((delta) => ({
        id: countId(siteId, delta),
        fields: { goalId: delta.goalId, classification: delta.classification, day: delta.day },
        delta,
      })),
    );
  }

  /** As `applyCountDeltas`, for the value counts (the tally keyed by value series, goalValueSeriesKey). */
  async applyValueCountDeltas(siteId: string, batch: number, tally: GoalCountTally): Promise<void> {
    await this.applyDeltasOnce(
      this.valueCountRows,
      siteId,
      batch,
      [...tally.values()].map((delta) => ({ id: valueCountId(siteId, delta), fields: valueCountFields(delta), delta })),
    );
  }

  private async applyDeltasOnce<Row extends GoalCountEntry & { _id: string; lastBatch: number }>(
    collection: Collection<Row>,
    siteId: string,
    batch: number,
    deltas: ReadonlyArray<{ id: string; fields: Record<string, unknown>; delta: GoalCountDelta }>,
  ): Promise<void> {
    const site = new Types.ObjectId(siteId);
    for (const chunk of chunks(deltas)) {
      const existing = new Map(
        (await collection.find({ _id: { $in: chunk.map(({ id }) => id) } } as never).toArray()).map(
          (row): [string, Row] => [row._id as string, row as unknown as Row],
        ),
      );
      const operations: Array<AnyBulkWriteOperation<Row>> = [];
      for (const { id, fields, delta } of chunk) {
        const row = existing.get(id);
        if (row && row.lastBatch >= batch) continue;
        operations.push({
          updateOne: {
            filter: { _id: id, lastBatch: { $not: { $gte: batch } } } as never,
            update: { $set: { siteId: site, ...fields, ...addToEntry(row, delta), lastBatch: batch } as never },
            upsert: true,
          },
        });
      }
      if (operations.length === 0) continue;
      // A document already holding the batch fails its filter, and its upsert meets the same _id.
      await bulkWriteInSlices(collection, operations, { duplicatesApplied: true });
    }
  }

  /** The goal's rows from nothing (a backfill), then its state: a backfill cut short leaves no state and is redone. */
  async replaceGoalRows(
    siteId: string,
    goalId: string,
    timezone: string,
    memberships: readonly GoalMembership[],
    tally: GoalCountTally,
    values: { dimensions: readonly string[]; memberships: readonly GoalMembership[]; tally: GoalCountTally },
  ): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.deleteGoalRows(siteId, [goalId]);
    for (const chunk of chunks(memberships))
      await this.memberRows.insertMany(
        chunk.map((membership) => ({ _id: memberId(siteId, membership), siteId: site, ...membership, firstBatch: 0 })),
        { ordered: false },
      );
    for (const chunk of chunks([...tally.values()]))
      await this.countRows.insertMany(
        chunk.map((delta) => ({
          _id: countId(siteId, delta),
          siteId: site,
          goalId: delta.goalId,
          classification: delta.classification,
          day: delta.day,
          ...addToEntry(undefined, delta),
          lastBatch: 0,
        })),
        { ordered: false },
      );
    for (const chunk of chunks(values.memberships))
      await this.valueMemberRows.insertMany(
        chunk.map((membership) => ({
          _id: valueMemberId(siteId, membership),
          siteId: site,
          ...valueMembershipFields(membership),
          firstBatch: 0,
        })),
        { ordered: false },
      );
    for (const chunk of chunks([...values.tally.values()]))
      await this.valueCountRows.insertMany(
        chunk.map((delta) => ({
          _id: valueCountId(siteId, delta),
          siteId: site,
          ...valueCountFields(delta),
          ...addToEntry(undefined, delta),
          lastBatch: 0,
        })),
        { ordered: false },
      );
    await this.states.updateOne(
      { _id: goalId },
      { $set: { siteId: site, timezone, dimensions: [...values.dimensions] } },
      { upsert: true },
    );
  }

  /** The rows and states of these goals (deleted goals, or goals to backfill again). */
  async deleteGoalRows(siteId: string, goalIds: readonly string[]): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.states.deleteMany({ _id: { $in: [...goalIds] } });
    await this.members.deleteMany({ siteId: site, goalId: { $in: [...goalIds] } });
    await this.counts.deleteMany({ siteId: site, goalId: { $in: [...goalIds] } });
    await this.valueMembers.deleteMany({ siteId: site, goalId: { $in: [...goalIds] } });
    await this.valueCounts.deleteMany({ siteId: site, goalId: { $in: [...goalIds] } });
  }

  /** Every goal row of the site (a rebuild or a deleted site): states first, so reads go raw at once. */
  async deleteSite(siteId: string): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.states.deleteMany({ siteId: site });
    await this.members.deleteMany({ siteId: site });
    await this.counts.deleteMany({ siteId: site });
    await this.valueMembers.deleteMany({ siteId: site });
    await this.valueCounts.deleteMany({ siteId: site });
  }

  /** The count entries of these goals over `[fromDay, toDay]`. */
  async findCounts(
    siteId: Types.ObjectId,
    goalIds: readonly string[],
    classification: string,
    fromDay: string,
    toDay: string,
  ): Promise<Array<GoalCountEntry & { goalId: string }>> {
    return this.countRows
      .find(
        { siteId, goalId: { $in: [...goalIds] }, classification, day: { $gte: fromDay, $lte: toDay } },
        { projection: { _id: 0, goalId: 1, fresh: 1, returning: 1, events: 1, revenue: 1 } },
      )
      .toArray();
  }

  /** Of these visitors, those who converted on the goal on a day in `[fromDay, toDay]`. */
  async findConvertedBetween(
    siteId: Types.ObjectId,
    goalId: string,
    classification: string,
    visitorKeys: readonly string[],
    fromDay: string,
    toDay: string,
  ): Promise<Set<string>> {
    const found = new Set<string>();
    if (fromDay > toDay) return found;
    for (const chunk of chunks(visitorKeys))
      for (const doc of await this.memberRows
        .find(
          { siteId, goalId, classification, visitorKey: { $in: chunk }, day: { $gte: fromDay, $lte: toDay } },
          { projection: { _id: 0, visitorKey: 1 } },
        )
        .toArray())
        found.add(doc.visitorKey);
    return found;
  }

  /**
   * The visitors converting on one of these goals on a day of `[fromDay, toDay]` under these
   * classifications: about one document per converting visitor and day, whatever the traffic.
   */
  async findConverters(
    siteId: Types.ObjectId,
    goalIds: readonly string[],
    classifications: readonly string[],
    fromDay: string,
    toDay: string,
  ): Promise<Set<string>> {
    const found = new Set<string>();
    if (fromDay > toDay) return found;
    for (const doc of await this.memberRows
      .find(
        {
          siteId,
          goalId: { $in: [...goalIds] },
          classification: { $in: [...classifications] },
          day: { $gte: fromDay, $lte: toDay },
        },
        { projection: { _id: 0, visitorKey: 1 } },
      )
      .toArray())
      found.add(doc.visitorKey);
    return found;
  }

  /** The value count entries of these goals by one dimension over `[fromDay, toDay]`. */
  findValueCounts(
    siteId: Types.ObjectId,
    goalIds: readonly string[],
    dimension: GoalValueDimension,
    classification: string,
    fromDay: string,
    toDay: string,
  ): Promise<GoalValueCountEntry[]> {
    return this.valueCountRows
      .find(
        { siteId, goalId: { $in: [...goalIds] }, dimension, classification, day: { $gte: fromDay, $lte: toDay } },
        { projection: { _id: 0, goalId: 1, value: 1, fresh: 1, returning: 1, events: 1, revenue: 1 } },
      )
      .toArray();
  }

  /**
   * Of these visitors, those who converted on the goal with a hit of some value of the dimension on
   * a day in `[fromDay, toDay]`: value (as JSON) → visitors.
   */
  async findValueConvertedBetween(
    siteId: Types.ObjectId,
    goalId: string,
    dimension: GoalValueDimension,
    classification: string,
    visitorKeys: readonly string[],
    fromDay: string,
    toDay: string,
  ): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>();
    if (fromDay > toDay) return found;
    for (const chunk of chunks(visitorKeys))
      for (const doc of await this.valueMemberRows
        .find(
          {
            siteId,
            goalId,
            dimension,
            classification,
            visitorKey: { $in: chunk },
            day: { $gte: fromDay, $lte: toDay },
          },
          { projection: { _id: 0, value: 1, visitorKey: 1 } },
        )
        .toArray()) {
        const value = JSON.stringify(doc.value ?? null);
        const visitors = found.get(value) ?? new Set<string>();
        visitors.add(doc.visitorKey);
        found.set(value, visitors);
      }
    return found;
  }

  private get valueMemberRows(): Collection<GoalValueMemberRow> {
    return this.valueMembers.collection as unknown as Collection<GoalValueMemberRow>;
  }

  private get valueCountRows(): Collection<GoalValueCountRow> {
    return this.valueCounts.collection as unknown as Collection<GoalValueCountRow>;
  }

  private get memberRows(): Collection<GoalMemberRow> {
    return this.members.collection as unknown as Collection<GoalMemberRow>;
  }

  private get countRows(): Collection<CountDocument> {
    return this.counts.collection as unknown as Collection<CountDocument>;
  }
}

function memberId(siteId: string, membership: GoalMembership): string {
  return goalRowId('member', siteId, [
    membership.goalId,
    membership.classification,
    membership.visitorKey,
    membership.day,
  ]);
}

function countId(siteId: string, delta: GoalCountDelta): string {
  return goalRowId('count', siteId, [delta.goalId, delta.classification, delta.day]);
}

/** The stored fields of a value membership (its goalId the value series). */
function valueMembershipFields(membership: GoalMembership): Omit<GoalValueMemberRow, '_id' | 'siteId' | 'firstBatch'> {
  const { goalId, dimension, value } = parseGoalValueSeriesKey(membership.goalId);
  return {
    goalId,
    dimension,
    value,
    classification: membership.classification,
    visitorKey: membership.visitorKey,
    day: membership.day,
  };
}

function valueCountFields(
  delta: GoalCountDelta,
): Pick<GoalValueCountRow, 'goalId' | 'dimension' | 'value' | 'classification' | 'day'> {
  const { goalId, dimension, value } = parseGoalValueSeriesKey(delta.goalId);
  return { goalId, dimension, value, classification: delta.classification, day: delta.day };
}

function valueMemberId(siteId: string, membership: GoalMembership): string {
  return goalRowId('member', siteId, [
    'value',
    membership.goalId,
    membership.classification,
    membership.visitorKey,
    membership.day,
  ]);
}

function valueCountId(siteId: string, delta: GoalCountDelta): string {
  return goalRowId('count', siteId, ['value', delta.goalId, delta.classification, delta.day]);
}
