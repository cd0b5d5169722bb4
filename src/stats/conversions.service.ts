import { BadRequestException, Injectable } from '@nestjs/common';
import { GoalsService, type StoredGoal } from '../goals/goals.service.js';
import type { ConversionGoal } from './pipelines/conversion-metrics.pipeline.js';
import { isPropDimension, type QueryDimension } from './query/dimensions.js';
import { goalNamePasses, GOAL_QUERY_METRICS, type BehaviourFilter, type GoalNameFilter } from './query/goal-query.js';
import type { QueryMetric, QueryMetricValues, StatsQuery } from './query/stats-query.js';
import { StatsEngine } from './stats-engine.service.js';
import { StatsRepository, type ConversionMetricsRow, type GroupKey } from './stats.repository.js';
import { uniqueConversions } from './rollups/goal-counts.js';
import { GoalRowsRepository } from './rollups/goal-rows.repository.js';
import { RollupCoverageService } from './rollups/rollup-coverage.service.js';
import type { ConversionPlan } from './rollups/source-plan.js';

/** One group of a goal query: its key (with `goal` when grouped by goal), metrics and revenue currency. */
export interface ConversionRow {
  key: GroupKey;
  values: QueryMetricValues;
  revenueCurrency: string | null;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const percent = (part: number, whole: number) => (whole > 0 ? round((part / whole) * 100, 1) : 0);

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
      const keys = await this.repository.findConvertedVisitorKeys(
        query,
        named.map((goal) => this.conversionGoal(goal)),
      );
      if (behaviour.operator === 'has_done') {
        only = only ? new Set(keys.filter((key) => only!.has(key))) : new Set(keys);
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
      plan.tail
        ? this.repository.aggregateConversions(
            { ...query, start: plan.tail.start, end: plan.tail.end },
            goals.map((goal) => this.conversionGoal(goal)),
            { byGoal: true, revenueCurrency: null, withVisitorKeys: true },
          )
        : [],
    ]);
    const tailOf = new Map(tailRows.map((row) => [row.key?.goal ?? '', row]));
    const rows: ConversionMetricsRow[] = [];
    for (const goal of goals) {
      const entries = counts.filter((entry) => entry.goalId === goal.id);
      const revenue = entries.flatMap((entry) =>
        entry.revenue.filter((item) => goal.revenueCurrency !== null && item.currency === goal.revenueCurrency),
      );
      const row: ConversionMetricsRow = {
        key: byGoal ? { goal: goal.displayName } : null,
        visitors: uniqueConversions(entries, plan.fromDay),
        events: entries.reduce((total, entry) => total + entry.events, 0),
        revenueSum: revenue.reduce((total, item) => total + item.sum, 0),
        revenueCount: revenue.reduce((total, item) => total + item.count, 0),
      };
      const tail = tailOf.get(goal.displayName);
      if (tail) {
        const earlier = await this.goalRows.findConvertedBetween(
          query.siteId,
          goal.id,
          classification,
          tail.visitorKeys ?? [],
          plan.fromDay,
          plan.settledEnd,
        );
        row.visitors += (tail.visitorKeys ?? []).filter((key) => !earlier.has(key)).length;
        row.events += tail.events;
        row.revenueSum += tail.revenueSum;
        row.revenueCount += tail.revenueCount;
      }
      if (row.events > 0) rows.push(row);
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
