import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { formatCalendarDate, zonedParts } from '../../common/time/calendar.js';
import { goalMatchesHit, type GoalDefinition, type GoalMatchableHit } from '../../goals/goal-matching.js';
import { goalDefinition, GoalsService, type StoredGoal } from '../../goals/goals.service.js';
import { HitsRepository } from '../../hits/hits.repository.js';
import { StatsRepository, type GoalHit } from '../stats.repository.js';
import {
  addConversionHit,
  addMembershipDeltas,
  recountGoal,
  type GoalCountTally,
  type GoalMembership,
} from './goal-counts.js';
import { GoalRowsRepository } from './goal-rows.repository.js';

/** The hit fields a goal and its conversion rows read. */
const GOAL_HIT_FIELDS = ['path', 'props', 'classification', 'revenueAmount', 'revenueCurrency'];

type BatchGoalHit = GoalMatchableHit &
  GoalHit & {
    siteId: Types.ObjectId;
  };

/** A converting hit's revenue, when it carries some (counted per currency; a query picks its goal's). */
function revenueOf(hit: GoalHit): { currency: string; amount: number } | null {
  return hit.revenueCurrency && hit.revenueAmount !== null && hit.revenueAmount !== undefined
    ? { currency: hit.revenueCurrency, amount: hit.revenueAmount }
    : null;
}

/**
 * Keeps the conversion rows (goal-counts.ts, goal-rows.schema.ts) for the rollup job. A goal
 * counts past data too: a goal without rows is backfilled (`syncGoals`) from the site's hits the
 * batches have already counted, between two batches, so that every later batch adds its hits on
 * top — the rows are then what they would be had the goal always existed. Per batch
 * (`applyBatch`), its converting hits add their events and revenue, and each conversion day new
 * to a visitor (a membership the batch created, `firstBatch`) the previous-conversion-day deltas
 * read from that visitor's days for the goal, applied once per count document through
 * `lastBatch`. Goals are hit-level: a late hit merging or splitting visits changes nothing here
 * but its own conversion. A site rebuild drops the site's goal rows (`deleteSite`), and the next
 * sync backfills them again.
 */
@Injectable()
export class GoalConversionsBuilder {
  constructor(
    private readonly rows: GoalRowsRepository,
    private readonly goals: GoalsService,
    private readonly hits: HitsRepository,
    private readonly stats: StatsRepository,
  ) {}

  /**
   * Backfills the goals without rows and drops the rows of deleted goals; run by the job after
   * any dead batch was finished and before it claims new ones, so the hits not awaiting a batch
   * are exactly those the rows of every ready goal hold. `beforeWrite` runs between reading a
   * goal's hits and replacing its rows: the job renews its lease there, so an instance that
   * stalled past its lease stops before overwriting rows another one has added batches to since.
   */
  async syncGoals(zones: ReadonlyMap<string, string>, beforeWrite: () => Promise<void>): Promise<void> {
    const goals = (await this.goals.listAll()).filter((goal) => zones.has(goal.siteId));
    const siteIds = [...new Set([...zones.keys()])];
    const ready = await this.rows.findReadyGoals(siteIds);
    const existing = new Set(goals.map((goal) => goal.id));
    for (const [siteId, states] of ready) {
      const gone = states.filter((state) => !existing.has(state.goalId)).map((state) => state.goalId);
      if (gone.length > 0) await this.rows.deleteGoalRows(siteId, gone);
    }
    for (const goal of goals) {
      if (ready.get(goal.siteId)?.some((state) => state.goalId === goal.id)) continue;
      await this.backfill(goal, zones.get(goal.siteId)!, beforeWrite);
    }
  }

  /** Every row of one goal from the site's hits already counted by the batches. */
  private async backfill(goal: StoredGoal, timezone: string, beforeWrite: () => Promise<void>): Promise<void> {
    const hits = await this.stats.findRolledUpGoalHits(new Types.ObjectId(goal.siteId), {
      name: goal.displayName,
      prefilter: this.goals.prefilter(goal),
      match: this.goals.matchExpression(goal),
      revenueCurrency: goal.revenueCurrency,
    });
    const memberships = new Map<string, GoalMembership>();
    const converting = hits.map((hit) => {
      const membership = {
        goalId: goal.id,
        classification: hit.classification,
        day: formatCalendarDate(zonedParts(hit.ts, timezone)),
      };
      memberships.set(`${hit.classification}|${hit.visitorKey}|${membership.day}`, {
        ...membership,
        visitorKey: hit.visitorKey,
      });
      return { membership, revenue: revenueOf(hit) };
    });
    const members = [...memberships.values()];
    await beforeWrite();
    await this.rows.replaceGoalRows(goal.siteId, goal.id, timezone, members, recountGoal(members, converting));
  }

  /**
   * Adds batch `batch` to the rows of the ready goals of `siteIds` (the sites of its hits), in
   * each site's zone (`zones`). Applying a batch again adds it once: memberships are created once
   * and remember the batch, count documents take it once (`lastBatch`).
   */
  async applyBatch(batch: number, siteIds: readonly string[], zones: ReadonlyMap<string, string>): Promise<void> {
    if (siteIds.length === 0) return;
    const ready = await this.rows.findReadyGoals(siteIds);
    if (ready.size === 0) return;
    const hits = (await this.hits.findRollupBatch(batch, GOAL_HIT_FIELDS)) as unknown as BatchGoalHit[];
    const bySite = new Map<string, BatchGoalHit[]>();
    for (const hit of hits) {
      const siteId = hit.siteId.toHexString();
      if (!ready.has(siteId)) continue;
      const list = bySite.get(siteId) ?? [];
      list.push(hit);
      bySite.set(siteId, list);
    }
    for (const [siteId, siteHits] of bySite) {
      const timezone = zones.get(siteId);
      if (timezone === undefined) continue;
      // Rows built in another zone are dropped by the site's rebuild (its zone changed): nothing to add to them.
      const readyIds = new Set(
        ready
          .get(siteId)!
          .filter((state) => state.timezone === timezone)
          .map((state) => state.goalId),
      );
      const goals = (await this.goals.listForSite(siteId))
        .filter((goal) => readyIds.has(goal.id))
        .map((goal): [string, GoalDefinition] => [goal.id, goalDefinition(goal)]);
      if (goals.length > 0) await this.applySiteBatch(siteId, batch, siteHits, goals, timezone);
    }
  }

  private async applySiteBatch(
    siteId: string,
    batch: number,
    hits: readonly BatchGoalHit[],
    goals: ReadonlyArray<[string, GoalDefinition]>,
    timezone: string,
  ): Promise<void> {
    const tally: GoalCountTally = new Map();
    const memberships = new Map<string, GoalMembership>();
    for (const hit of hits) {
      const day = formatCalendarDate(zonedParts(hit.ts, timezone));
      for (const [goalId, definition] of goals) {
        if (!goalMatchesHit(definition, hit)) continue;
        addConversionHit(tally, { goalId, classification: hit.classification, day }, revenueOf(hit));
        memberships.set(`${goalId}|${hit.classification}|${hit.visitorKey}|${day}`, {
          goalId,
          classification: hit.classification,
          visitorKey: hit.visitorKey,
          day,
        });
      }
    }
    const ids = await this.rows.upsertMembers(siteId, batch, [...memberships.values()]);
    // The conversion days this batch created (the same on a replay), per goal, classification and visitor.
    const added = new Map<string, { goalId: string; classification: string; days: Map<string, Set<string>> }>();
    for (const membership of await this.rows.findCreatedBy(batch, ids)) {
      const key = `${membership.goalId}|${membership.classification}`;
      const group = added.get(key) ?? {
        goalId: membership.goalId,
        classification: membership.classification,
        days: new Map(),
      };
      const days = group.days.get(membership.visitorKey) ?? new Set<string>();
      days.add(membership.day);
      group.days.set(membership.visitorKey, days);
      added.set(key, group);
    }
    for (const { goalId, classification, days } of added.values()) {
      const histories = await this.rows.findHistories(siteId, goalId, classification, [...days.keys()]);
      for (const [visitorKey, newDays] of days)
        addMembershipDeltas(tally, goalId, classification, histories.get(visitorKey) ?? [], newDays);
    }
    await this.rows.applyCountDeltas(siteId, batch, tally);
  }

  /** The site's rows are rebuilt (purge, erasure, zone change) or the site is gone: its goal rows go too. */
  deleteSite(siteId: string): Promise<void> {
    return this.rows.deleteSite(siteId);
  }
}
