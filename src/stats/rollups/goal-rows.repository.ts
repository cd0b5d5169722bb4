import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { Types, type Model } from 'mongoose';
import { bulkWriteErrors } from '../../database/bulk-write-errors.js';
import {
  addToEntry,
  goalRowId,
  type GoalCountDelta,
  type GoalCountEntry,
  type GoalCountTally,
  type GoalMembership,
} from './goal-counts.js';
import { GoalCountRow, GoalMemberRow, GoalRowsState } from './goal-rows.schema.js';

const DUPLICATE_KEY = 11000;
/** Keys per `$in` and documents per write: within the embedded planner's 1,000 index intervals. */
const CHUNK = 500;

type CountDocument = GoalCountRow;

/** A goal whose rows are complete, in the zone they were built in. */
export interface ReadyGoal {
  goalId: string;
  timezone: string;
}

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
  ) {}

  /** The goals of these sites whose rows are complete. */
  async findReadyGoals(siteIds: readonly string[]): Promise<Map<string, ReadyGoal[]>> {
    const docs = await this.states.find({ siteId: { $in: siteIds.map((id) => new Types.ObjectId(id)) } }).lean();
    const bySite = new Map<string, ReadyGoal[]>();
    for (const doc of docs) {
      const list = bySite.get(doc.siteId.toHexString()) ?? [];
      list.push({ goalId: doc._id, timezone: doc.timezone });
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
      try {
        await this.memberRows.bulkWrite(operations, { ordered: false });
      } catch (error) {
        // Two concurrent upserts of one new _id: the other one created it.
        const writeErrors = bulkWriteErrors(error);
        if (!writeErrors || writeErrors.some((entry) => entry.code !== DUPLICATE_KEY)) throw error;
      }
    }
    return ids;
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
    const site = new Types.ObjectId(siteId);
    for (const chunk of chunks([...tally.values()])) {
      const withIds = chunk.map((delta) => ({ id: countId(siteId, delta), delta }));
      const existing = new Map(
        (await this.countRows.find({ _id: { $in: withIds.map(({ id }) => id) } }).toArray()).map((row) => [
          row._id,
          row,
        ]),
      );
      const operations: Array<AnyBulkWriteOperation<CountDocument>> = [];
      for (const { id, delta } of withIds) {
        const row = existing.get(id);
        if (row && row.lastBatch >= batch) continue;
        const { goalId, classification, day } = delta;
        operations.push({
          updateOne: {
            filter: { _id: id, lastBatch: { $not: { $gte: batch } } },
            update: {
              $set: { siteId: site, goalId, classification, day, ...addToEntry(row, delta), lastBatch: batch },
            },
            upsert: true,
          },
        });
      }
      if (operations.length === 0) continue;
      try {
        await this.countRows.bulkWrite(operations, { ordered: false });
      } catch (error) {
        // A document already holding the batch fails its filter, and its upsert meets the same _id.
        const writeErrors = bulkWriteErrors(error);
        if (!writeErrors || writeErrors.some((entry) => entry.code !== DUPLICATE_KEY)) throw error;
      }
    }
  }

  /** The goal's rows from nothing (a backfill), then its state: a backfill cut short leaves no state and is redone. */
  async replaceGoalRows(
    siteId: string,
    goalId: string,
    timezone: string,
    memberships: readonly GoalMembership[],
    tally: GoalCountTally,
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
    await this.states.updateOne({ _id: goalId }, { $set: { siteId: site, timezone } }, { upsert: true });
  }

  /** The rows and states of these goals (deleted goals, or goals to backfill again). */
  async deleteGoalRows(siteId: string, goalIds: readonly string[]): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.states.deleteMany({ _id: { $in: [...goalIds] } });
    await this.members.deleteMany({ siteId: site, goalId: { $in: [...goalIds] } });
    await this.counts.deleteMany({ siteId: site, goalId: { $in: [...goalIds] } });
  }

  /** Every goal row of the site (a rebuild or a deleted site): states first, so reads go raw at once. */
  async deleteSite(siteId: string): Promise<void> {
    const site = new Types.ObjectId(siteId);
    await this.states.deleteMany({ siteId: site });
    await this.members.deleteMany({ siteId: site });
    await this.counts.deleteMany({ siteId: site });
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
