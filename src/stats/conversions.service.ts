import { BadRequestException, Injectable } from '@nestjs/common';
import { GoalsService, type StoredGoal } from '../goals/goals.service.js';
import { CLASSIFICATIONS } from '../hits/hit.schema.js';
import type { ConversionGoal } from './pipelines/conversion-metrics.pipeline.js';
import { isPropDimension, type QueryDimension } from './query/dimensions.js';
import { goalNamePasses, GOAL_QUERY_METRICS, type BehaviourFilter, type GoalNameFilter } from './query/goal-query.js';
import type { QueryMetric, QueryMetricValues, StatsQuery } from './query/stats-query.js';
import { StatsEngine } from './stats-engine.service.js';
import { StatsRepository, type ConversionMetricsRow, type GroupKey } from './stats.repository.js';
import { uniqueConversions, type GoalCountEntry } from './rollups/goal-counts.js';
import { GoalRowsRepository } from './rollups/goal-rows.repository.js';
import { RollupCoverageService } from './rollups/rollup-coverage.service.js';
import type { ConversionPlan } from './rollups/source-plan.js';
import type { DaySlice } from './pipelines/rollup.pipeline.js';

/** One group of a goal query: its key (with `goal` when grouped by goal), metrics and revenue currency. */
export interface ConversionRow {
  key: GroupKey;
  values: QueryMetricValues;
  revenueCurrency: string | null;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const percent = (part: number, whole: number) => (whole > 0 ? round((part / whole) * 100, 1) : 0);

/** A group's conversions from its count entries: unique conversions since `fromDay`, events, revenue in the goal's currency. */
function countedConversions(
  key: ConversionMetricsRow['key'],
  goal: StoredGoal,
  entries: GoalCountEntry[],
  fromDay: string,
): ConversionMetricsRow {
  const revenue = entries.flatMap((entry) =>
    entry.revenue.filter((item) => goal.revenueCurrency !== null && item.currency === goal.revenueCurrency),
  );
  return {
    key,
    visitors: uniqueConversions(entries, fromDay),
    events: entries.reduce((total, entry) => total + entry.events, 0),
    revenueSum: revenue.reduce((total, item) => total + item.sum, 0),
    revenueCount: revenue.reduce((total, item) => total + item.count, 0),
  };
}

/** The settled row plus the tail's conversions; a tail visitor counts once unless `converted` already in the settled days. */
function withTail(
  row: ConversionMetricsRow,
  tail: ConversionMetricsRow | undefined,
  converted: ReadonlySet<string>,
): ConversionMetricsRow {
  if (!tail) return row;
  return {
    ...row,
    visitors: row.visitors + (tail.visitorKeys ?? []).filter((visitor) => !converted.has(visitor)).length,
    events: row.events + tail.events,
    revenueSum: row.revenueSum + tail.revenueSum,
    revenueCount: row.revenueCount + tail.revenueCount,
  };
}

/**
 * Goal queries (docs/goals.md): conversions from the conversion rows the rollup job keeps where
 * they answer the query (`conversionSourceCandidates`), else from raw hits; conversion rates against the
 * visitors of the same range and filters, revenue per goal currency, and the behavioural
 * filters (`has_done` / `has_not_done`) as visitor sets. Goals are read through GoalsService and
 * matched by its one definition.
 */
@Injectable()
export class ConversionsService {
  constructor(
    private readonly goals: GoalsService,
    private readonly repository: StatsRepository,
    private readonly engine: StatsEngine,
    private readonly coverage: RollupCoverageService,
    private readonly goalRows: GoalRowsRepository,
  ) {}

  siteGoals(siteId: string): Promise<StoredGoal[]> {
    return this.goals.listForSite(siteId);
  }

  /** `withBehaviours` for a read that has not read the site's goals (none read without behaviours). */
  async withBehaviourFilters(
    query: StatsQuery<QueryDimension>,
    behaviours: BehaviourFilter[],
  ): Promise<StatsQuery<QueryDimension>> {
    if (behaviours.length === 0) return query;
    return this.withBehaviours(query, behaviours, await this.siteGoals(query.siteId.toHexString()));
  }

  /**
   * The query limited to visitors who did (`has_done`) or did not (`has_not_done`) complete the
   * named goals in the query's range, under its classification. Every has_done must hold (a
   * visitor in all of their sets); no has_not_done may.
   */
  async withBehaviours(
    query: StatsQuery<QueryDimension>,
    behaviours: BehaviourFilter[],
    goals: StoredGoal[],
  ): Promise<StatsQuery<QueryDimension>> {
    if (behaviours.length === 0) return query;
    let only: Set<string> | undefined;
    const except = new Set<string>();
    for (const behaviour of behaviours) {
      const named = goals.filter((goal) => behaviour.names.includes(goal.displayName));
      const keys = await this.convertedVisitors(query, named);
      if (behaviour.operator === 'has_done') {
        only = only ? new Set([...keys].filter((key) => only!.has(key))) : keys;
      } else {
        for (const key of keys) except.add(key);
      }
    }
    return {
      ...query,
      visitorKeys: { ...(only ? { only: [...only] } : {}), ...(except.size > 0 ? { except: [...except] } : {}) },
    };
  }

  /**
   * The visitors with a conversion on one of `goals` in the query's range, under its
   * classification: from the goal member rows where they answer (`behaviourSourceCandidates`:
   * one document per converting visitor and day), with the raw hits of an unsettled tail;
   * else from the raw hits of the range.
   */
  private async convertedVisitors(query: StatsQuery<QueryDimension>, goals: StoredGoal[]): Promise<Set<string>> {
    if (goals.length === 0) return new Set();
    const plan = await this.coverage.planBehaviour(
      query,
      goals.map((goal) => goal.id),
    );
    const conversionGoals = goals.map((goal) => this.conversionGoal(goal));
    if (plan.source === 'raw') return new Set(await this.repository.findConvertedVisitorKeys(query, conversionGoals));
    const [settled, tail] = await Promise.all([
      this.goalRows.findConverters(
        query.siteId,
        goals.map((goal) => goal.id),
        query.classification === 'ALL' ? CLASSIFICATIONS : [query.classification],
        plan.fromDay,
        plan.settledEnd,
      ),
      plan.tail
        ? this.repository.findConvertedVisitorKeys(
            { ...query, start: plan.tail.start, end: plan.tail.end },
            conversionGoals,
          )
        : [],
    ]);
    for (const key of tail) settled.add(key);
    return settled;
  }

  /**
   * A goal query's groups. `visitors` are unique conversions and `events` total conversions;
   * `conversionRate` divides a group's converted visitors by the visitors of the whole query
   * without goal and property filters (Plausible's conversion_rate), `groupConversionRate` by
   * those of the same group of the other dimensions (its group_conversion_rate); both in
   * percent, one decimal. Revenue sums and averages (2 decimals) count hits that carry revenue
   * in their goal's currency.
   */
  async run(
    query: StatsQuery<QueryDimension>,
    goals: StoredGoal[],
    selection: { byGoal: boolean; nameFilters: GoalNameFilter[] },
    metrics: QueryMetric[],
  ): Promise<ConversionRow[]> {
    const unsupported = metrics.filter((metric) => !GOAL_QUERY_METRICS.has(metric));
    if (unsupported.length > 0) {
      throw new BadRequestException(
        `metrics: a goal query answers ${[...GOAL_QUERY_METRICS].join(', ')}; not ${unsupported.join(', ')}`,
      );
    }
    const selected = goals.filter((goal) =>
      selection.nameFilters.every((filter) => goalNamePasses(goal.displayName, filter)),
    );
    const currencies = [...new Set(selected.map((goal) => goal.revenueCurrency).filter((c): c is string => !!c))];
    const queryCurrency = currencies.length === 1 ? currencies[0] : null;
    const currencyOf = new Map(selected.map((goal) => [goal.displayName, goal.revenueCurrency]));

    // The denominators: visitors without goal and property filters (properties belong to events).
    const base: StatsQuery<QueryDimension> = {
      ...query,
      filters: query.filters.filter((filter) => !isPropDimension(filter.dimension)),
    };
    const plan: ConversionPlan =
      selected.length > 0
        ? await this.coverage.planConversions(query, {
            goalIds: selected.map((goal) => goal.id),
            byGoal: selection.byGoal,
          })
        : { source: 'raw' };
    const [conversions, totals, groupTotals] = await Promise.all([
      selected.length === 0
        ? []
        : plan.source === 'goal-counts'
          ? this.conversionsFromRows(query, plan, selected, selection.byGoal)
          : plan.source === 'goal-value-counts'
            ? this.conversionsFromValueRows(query, plan, selected, selection.byGoal)
            : this.repository.aggregateConversions(
                query,
                selected.map((goal) => this.conversionGoal(goal)),
                { byGoal: selection.byGoal, revenueCurrency: queryCurrency },
              ),
      metrics.includes('conversionRate')
        ? this.engine.run({ ...base, dimensions: [], interval: undefined }, ['visitors'])
        : [],
      metrics.includes('groupConversionRate') ? this.engine.run(base, ['visitors']) : [],
    ]);
    const total = totals[0]?.values.visitors ?? 0;
    const fields = [...query.dimensions, ...(query.interval ? ['time'] : [])];
    const groupKey = (key: GroupKey | null) => JSON.stringify(fields.map((field) => key?.[field] ?? null));
    const groupVisitors = new Map(groupTotals.map((row) => [groupKey(row.key), row.values.visitors ?? 0]));

    return conversions.map((row) => {
      const key: GroupKey = Object.fromEntries(
        [...(selection.byGoal ? ['goal'] : []), ...fields].map((field) => [field, row.key?.[field] ?? null]),
      );
      const currency = selection.byGoal ? (currencyOf.get(key.goal ?? '') ?? null) : queryCurrency;
      const values: QueryMetricValues = {};
      for (const metric of metrics) {
        if (metric === 'visitors') values.visitors = row.visitors;
        else if (metric === 'events') values.events = row.events;
        else if (metric === 'conversionRate') values.conversionRate = percent(row.visitors, total);
        else if (metric === 'groupConversionRate')
          values.groupConversionRate = percent(row.visitors, groupVisitors.get(groupKey(row.key)) ?? 0);
        else if (metric === 'revenueTotal') values.revenueTotal = currency ? round(row.revenueSum, 2) : null;
        else if (metric === 'revenueAverage')
          values.revenueAverage = currency
            ? row.revenueCount > 0
              ? round(row.revenueSum / row.revenueCount, 2)
              : 0
            : null;
      }
      return { key, values, revenueCurrency: currency };
    });
  }

  /** The conversions of the unsettled tail of a rows-backed goal query, per goal, with their visitors. */
  private tailConversions(
    query: StatsQuery<QueryDimension>,
    tail: DaySlice | undefined,
    goals: StoredGoal[],
  ): Promise<ConversionMetricsRow[]> {
    if (!tail) return Promise.resolve([]);
    return this.repository.aggregateConversions(
      { ...query, start: tail.start, end: tail.end },
      goals.map((goal) => this.conversionGoal(goal)),
      { byGoal: true, revenueCurrency: null, withVisitorKeys: true },
    );
  }

  /**
   * The conversions of each goal from its conversion rows: unique conversions of the settled days
   * from the previous-conversion-day counts, plus the raw tail's converted visitors who did not
   * convert on a settled day of the range; events and revenue (in the goal's currency) added up.
   * The rows answer only queries without other dimensions or filters (see the plan), so a row's
   * key is its goal (grouped by goal) or none, as the raw pipeline gives it.
   */
  private async conversionsFromRows(
    query: StatsQuery<QueryDimension>,
    plan: Extract<ConversionPlan, { source: 'goal-counts' }>,
    goals: StoredGoal[],
    byGoal: boolean,
  ): Promise<ConversionMetricsRow[]> {
    const classification = query.classification;
    const [counts, tailRows] = await Promise.all([
      this.goalRows.findCounts(
        query.siteId,
        goals.map((goal) => goal.id),
        classification,
        plan.fromDay,
        plan.settledEnd,
      ),
      this.tailConversions(query, plan.tail, goals),
    ]);
    const tailOf = new Map(tailRows.map((row) => [row.key?.goal ?? '', row]));
    const rows: ConversionMetricsRow[] = [];
    for (const goal of goals) {
      const tail = tailOf.get(goal.displayName);
      const row = withTail(
        countedConversions(
          byGoal ? { goal: goal.displayName } : null,
          goal,
          counts.filter((entry) => entry.goalId === goal.id),
          plan.fromDay,
        ),
        tail,
        tail
          ? await this.goalRows.findConvertedBetween(
              query.siteId,
              goal.id,
              classification,
              tail.visitorKeys ?? [],
              plan.fromDay,
              plan.settledEnd,
            )
          : new Set<string>(),
      );
      if (row.events > 0) rows.push(row);
    }
    return rows;
  }

  /**
   * The conversions of each goal by one hit-level dimension from its value rows: per value, unique
   * conversions of the settled days from the previous-conversion-day counts, plus the raw tail's
   * converted visitors of that value who did not convert with it on a settled day of the range;
   * events and revenue (in the goal's currency) added up. A row's key is the value (and the goal,
   * grouped by goal), as the raw pipeline gives it.
   */
  private async conversionsFromValueRows(
    query: StatsQuery<QueryDimension>,
    plan: Extract<ConversionPlan, { source: 'goal-value-counts' }>,
    goals: StoredGoal[],
    byGoal: boolean,
  ): Promise<ConversionMetricsRow[]> {
    const { classification } = query;
    const { dimension } = plan;
    const [counts, tailRows] = await Promise.all([
      this.goalRows.findValueCounts(
        query.siteId,
        goals.map((goal) => goal.id),
        dimension,
        classification,
        plan.fromDay,
        plan.settledEnd,
      ),
      this.tailConversions(query, plan.tail, goals),
    ]);
    const rows: ConversionMetricsRow[] = [];
    for (const goal of goals) {
      // Per value (as JSON: null is a value too): its count entries, and its tail row.
      const entries = new Map<string, GoalCountEntry[]>();
      for (const entry of counts)
        if (entry.goalId === goal.id) {
          const value = JSON.stringify(entry.value ?? null);
          const list = entries.get(value) ?? [];
          list.push(entry);
          entries.set(value, list);
        }
      const tails = new Map(
        tailRows
          .filter((row) => row.key?.goal === goal.displayName)
          .map((row) => [JSON.stringify(row.key?.[dimension] ?? null), row]),
      );
      const earlier =
        tails.size > 0
          ? await this.goalRows.findValueConvertedBetween(
              query.siteId,
              goal.id,
              dimension,
              classification,
              [...new Set([...tails.values()].flatMap((row) => row.visitorKeys ?? []))],
              plan.fromDay,
              plan.settledEnd,
            )
          : new Map<string, Set<string>>();
      for (const value of new Set([...entries.keys(), ...tails.keys()])) {
        const key = { [dimension]: JSON.parse(value) as string | null };
        const row = withTail(
          countedConversions(
            byGoal ? { goal: goal.displayName, ...key } : key,
            goal,
            entries.get(value) ?? [],
            plan.fromDay,
          ),
          tails.get(value),
          earlier.get(value) ?? new Set<string>(),
        );
        if (row.events > 0) rows.push(row);
      }
    }
    return rows;
  }

  private conversionGoal(goal: StoredGoal): ConversionGoal {
    return {
      name: goal.displayName,
      prefilter: this.goals.prefilter(goal),
      match: this.goals.matchExpression(goal),
      revenueCurrency: goal.revenueCurrency,
    };
  }
}
