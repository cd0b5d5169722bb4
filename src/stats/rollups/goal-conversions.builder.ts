import { Injectable, Logger } from '@nestjs/common';
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
import { GoalRowsRepository, type ReadyGoal } from './goal-rows.repository.js';
import {
  coversGoalValueDimensions,
  GOAL_VALUE_DIMENSIONS,
  GOAL_VALUE_FIELDS,
  goalValueSeriesKey,
  hitValue,
  parseGoalValueSeriesKey,
} from './goal-value-series.js';

/** The hit fields a goal and its conversion rows read. */
const GOAL_HIT_FIELDS = [
  ...new Set(['path', 'props', 'classification', 'revenueAmount', 'revenueCurrency', ...GOAL_VALUE_FIELDS]),
];

/** Whether a goal's rows include the value rows of the current GOAL_VALUE_DIMENSIONS. */
function hasCurrentValueRows(state: ReadyGoal): boolean {
  return coversGoalValueDimensions(state.dimensions);
}

/** The conversion's memberships by value series: one per dimension, for the hit's value of it. */
function valueMemberships(
  goalId: string,
  hit: Readonly<Record<string, unknown>>,
  membership: Omit<GoalMembership, 'goalId'>,
): GoalMembership[] {
  return GOAL_VALUE_DIMENSIONS.map((dimension) => ({
    ...membership,
    goalId: goalValueSeriesKey({ goalId, dimension, value: hitValue(hit, dimension) }),
  }));
}

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
  private readonly logger = new Logger(GoalConversionsBuilder.name);

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
      // Rows kept before the value rows existed (or for other dimensions) are built again whole.
      if (ready.get(goal.siteId)?.some((state) => state.goalId === goal.id && hasCurrentValueRows(state))) continue;
      await this.backfill(goal, zones.get(goal.siteId)!, beforeWrite);
    }
  }

  /** Every row of one goal from the site's hits already counted by the batches. */
  private async backfill(goal: StoredGoal, timezone: string, beforeWrite: () => Promise<void>): Promise<void> {
    const started = performance.now();
    const hits = await this.stats.findRolledUpGoalHits(new Types.ObjectId(goal.siteId), {
      name: goal.displayName,
      prefilter: this.goals.prefilter(goal),
      match: this.goals.matchExpression(goal),
      revenueCurrency: goal.revenueCurrency,
    });
    const memberships = new Map<string, GoalMembership>();
    const values = new Map<string, GoalMembership>();
    const valueConverting: Array<{
      membership: Omit<GoalMembership, 'visitorKey'>;
      revenue: ReturnType<typeof revenueOf>;
    }> = [];
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
      const revenue = revenueOf(hit);
      for (const value of valueMemberships(goal.id, hit as unknown as Record<string, unknown>, {
        classification: hit.classification,
        visitorKey: hit.visitorKey,
        day: membership.day,
      })) {
        values.set(`${value.goalId}|${hit.classification}|${hit.visitorKey}|${membership.day}`, value);
        valueConverting.push({
          membership: { goalId: value.goalId, classification: value.classification, day: value.day },
          revenue,
        });
      }
      return { membership, revenue };
    });
    const members = [...memberships.values()];
    const valueMembers = [...values.values()];
    await beforeWrite();
    await this.rows.replaceGoalRows(goal.siteId, goal.id, timezone, members, recountGoal(members, converting), {
      dimensions: GOAL_VALUE_DIMENSIONS,
      memberships: valueMembers,
      tally: recountGoal(valueMembers, valueConverting),
    });
    // Operators (and the bench) see from this line when a new goal's past conversions are counted.
    this.logger.log(
      `Counted goal ${goal.id} from ${hits.length} past converting hits in ${Math.round(performance.now() - started)} ms`,
    );
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
      const inZone = ready.get(siteId)!.filter((state) => state.timezone === timezone);
      const readyIds = new Set(inZone.map((state) => state.goalId));
      // Goals whose rows predate the value rows get them from their next backfill (syncGoals), not from batches.
      const withValues = new Set(inZone.filter(hasCurrentValueRows).map((state) => state.goalId));
      const goals = (await this.goals.listForSite(siteId))
        .filter((goal) => readyIds.has(goal.id))
        .map((goal): [string, GoalDefinition] => [goal.id, goalDefinition(goal)]);
      if (goals.length > 0) await this.applySiteBatch(siteId, batch, siteHits, goals, timezone, withValues);
    }
  }

  private async applySiteBatch(
    siteId: string,
    batch: number,
    hits: readonly BatchGoalHit[],
    goals: ReadonlyArray<[string, GoalDefinition]>,
    timezone: string,
    withValues: ReadonlySet<string>,
  ): Promise<void> {
    const tally: GoalCountTally = new Map();
    const memberships = new Map<string, GoalMembership>();
    const valueTally: GoalCountTally = new Map();
    const values = new Map<string, GoalMembership>();
    for (const hit of hits) {
      const day = formatCalendarDate(zonedParts(hit.ts, timezone));
      for (const [goalId, definition] of goals) {
        if (!goalMatchesHit(definition, hit)) continue;
        const revenue = revenueOf(hit);
        addConversionHit(tally, { goalId, classification: hit.classification, day }, revenue);
        memberships.set(`${goalId}|${hit.classification}|${hit.visitorKey}|${day}`, {
          goalId,
          classification: hit.classification,
          visitorKey: hit.visitorKey,
          day,
        });
        if (!withValues.has(goalId)) continue;
        for (const value of valueMemberships(goalId, hit as unknown as Record<string, unknown>, {
          classification: hit.classification,
          visitorKey: hit.visitorKey,
          day,
        })) {
          addConversionHit(valueTally, { goalId: value.goalId, classification: value.classification, day }, revenue);
          values.set(`${value.goalId}|${hit.classification}|${hit.visitorKey}|${day}`, value);
        }
      }
    }
    await this.applyMemberships(siteId, batch, tally, [...memberships.values()]);
    if (values.size > 0) await this.applyValueMemberships(siteId, batch, valueTally, [...values.values()]);
  }

  /** The batch's goal memberships and count deltas, each applied once. */
  private async applyMemberships(
    siteId: string,
    batch: number,
    tally: GoalCountTally,
    memberships: readonly GoalMembership[],
  ): Promise<void> {
    const ids = await this.rows.upsertMembers(siteId, batch, memberships);
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

  /**
   * The same for the value rows: the memberships keyed by value series, their new days' deltas
   * read from the visitor's days for the goal and dimension (every value at once), applied once.
   */
  private async applyValueMemberships(
    siteId: string,
    batch: number,
    tally: GoalCountTally,
    memberships: readonly GoalMembership[],
  ): Promise<void> {
    const ids = await this.rows.upsertValueMembers(siteId, batch, memberships);
    // The days this batch created, per goal, dimension and classification, then per series and visitor.
    const added = new Map<string, { series: Map<string, Map<string, Set<string>>>; visitors: Set<string> }>();
    for (const membership of await this.rows.findValueCreatedBy(batch, ids)) {
      const { goalId, dimension } = parseGoalValueSeriesKey(membership.goalId);
      const key = JSON.stringify([goalId, dimension, membership.classification]);
      const group = added.get(key) ?? { series: new Map(), visitors: new Set() };
      const visitors = group.series.get(membership.goalId) ?? new Map<string, Set<string>>();
      const days = visitors.get(membership.visitorKey) ?? new Set<string>();
      days.add(membership.day);
      visitors.set(membership.visitorKey, days);
      group.series.set(membership.goalId, visitors);
      group.visitors.add(membership.visitorKey);
      added.set(key, group);
    }
    for (const [key, { series, visitors }] of added) {
      const [goalId, dimension, classification] = JSON.parse(key) as [
        string,
        (typeof GOAL_VALUE_DIMENSIONS)[number],
        string,
      ];
      const histories = await this.rows.findValueHistories(siteId, goalId, dimension, classification, [...visitors]);
      for (const [seriesKey, newDays] of series)
        for (const [visitorKey, days] of newDays)
          addMembershipDeltas(tally, seriesKey, classification, histories.get(seriesKey)?.get(visitorKey) ?? [], days);
    }
    await this.rows.applyValueCountDeltas(siteId, batch, tally);
  }

  /** The site's rows are rebuilt (purge, erasure, zone change) or the site is gone: its goal rows go too. */
  deleteSite(siteId: string): Promise<void> {
    return this.rows.deleteSite(siteId);
  }
}
