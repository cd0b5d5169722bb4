import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../../common/time/clock.js';
import type { Types } from 'mongoose';
import { trackingConfig, type TrackingConfig } from '../../config/configuration.js';
import type { QueryDimension } from '../query/dimensions.js';
import type { StatsQuery } from '../query/stats-query.js';
import { StatsRepository } from '../stats.repository.js';
import { pendingVisitDays } from './pending-visit-days.js';
import { daySlicesOf, mergeDaySlices } from './rollup-days.js';
import { isAttributionDimension } from '../pipelines/rollup.pipeline.js';
import { RollupRepository } from './rollup.repository.js';
import { GoalRowsRepository } from './goal-rows.repository.js';
import { FunnelRowsRepository } from './funnel-rows.repository.js';
import { coversGoalValueDimensions } from './goal-value-series.js';
import {
  behaviourSourceCandidates,
  type BehaviourPlan,
  conversionSourceCandidates,
  funnelSourceCandidates,
  type FunnelPlan,
  sourceCandidates,
  type ConversionPlan,
  type ConversionSelection,
  type RollupFacts,
  type Source,
  type SourceNeed,
  type SourcePlan,
} from './source-plan.js';

/**
 * Gathers what the rollups of a site cover (RollupFacts: usable rows, unsettled days, closed
 * weeks) and asks `sourceCandidates` — the one pure function that decides — which source answers
 * a read. Visit facts are gathered only for visit reads: they cost a look-up of the pending hits'
 * visits. The caller has had the site's hits sessionized (reads flush first).
 */
@Injectable()
export class RollupCoverageService {
  private readonly idleMs: number;

  constructor(
    private readonly rollups: RollupRepository,
    private readonly goalRows: GoalRowsRepository,
    private readonly funnelRows: FunnelRowsRepository,
    private readonly stats: StatsRepository,
    private readonly clock: Clock,
    @Inject(trackingConfig.KEY) tracking: TrackingConfig,
  ) {
    this.idleMs = tracking.sessionIdleMinutes * 60_000;
  }

  /** The source that answers `need` for `query`. */
  async plan(need: SourceNeed, query: StatsQuery<QueryDimension>): Promise<SourcePlan> {
    return sourceCandidates(need, query, await this.facts(query.siteId, query.timezone, factsNeeded(need, query)))[0];
  }

  /** The source that answers a goal query's conversions (`conversionSourceCandidates`). */
  async planConversions(query: StatsQuery<QueryDimension>, selection: ConversionSelection): Promise<ConversionPlan> {
    const facts = await this.facts(query.siteId, query.timezone, false);
    const site = query.siteId.toHexString();
    const ready = (await this.goalRows.findReadyGoals([site])).get(site) ?? [];
    const inZone = ready.filter((goal) => goal.timezone === query.timezone);
    const readyGoals = new Set(inZone.map((goal) => goal.goalId));
    const readyGoalValues = new Set(
      inZone.filter((goal) => coversGoalValueDimensions(goal.dimensions)).map((goal) => goal.goalId),
    );
    return conversionSourceCandidates(query, selection, { ...facts, readyGoals, readyGoalValues })[0];
  }

  /** The source that says who converted on these goals in the query's range (`behaviourSourceCandidates`). */
  async planBehaviour(query: StatsQuery<QueryDimension>, goalIds: readonly string[]): Promise<BehaviourPlan> {
    const facts = await this.facts(query.siteId, query.timezone, false);
    const site = query.siteId.toHexString();
    const ready = (await this.goalRows.findReadyGoals([site])).get(site) ?? [];
    const readyGoals = new Set(ready.filter((goal) => goal.timezone === query.timezone).map((goal) => goal.goalId));
    return behaviourSourceCandidates(query, goalIds, { ...facts, readyGoals })[0];
  }

  /**
   * The source that answers a saved funnel's figures (`funnelSourceCandidates`); `goalIds` are
   * the funnel's steps now, which its rows must have been built for.
   */
  async planFunnel(query: StatsQuery<QueryDimension>, funnel: { id: string; goalIds: string[] }): Promise<FunnelPlan> {
    const facts = await this.facts(query.siteId, query.timezone, false);
    const site = query.siteId.toHexString();
    const ready = (await this.funnelRows.findReadyFunnels([site])).get(site) ?? [];
    const funnelReady = ready.some(
      (state) =>
        state.funnelId === funnel.id &&
        state.timezone === query.timezone &&
        state.goalIds.join(',') === funnel.goalIds.join(','),
    );
    return funnelSourceCandidates(query, { ...facts, funnelReady })[0];
  }

  /**
   * The plan of one given source for `need`, when that source can answer it (tests compare each
   * source with the raw pipeline; reads use `plan`).
   */
  async planOf<S extends Source>(
    need: SourceNeed,
    query: StatsQuery<QueryDimension>,
    source: S,
  ): Promise<Extract<SourcePlan, { source: S }> | undefined> {
    const facts = await this.facts(query.siteId, query.timezone, factsNeeded(need, query));
    return sourceCandidates(need, query, facts).find(
      (plan): plan is Extract<SourcePlan, { source: S }> => plan.source === source,
    );
  }

  /**
   * What the site's rollups cover now, in `timezone`; with `visits`, the days the pending hits'
   * visits may have changed too, and with `attribution` the days their attribution may have.
   */
  async facts(
    siteId: Types.ObjectId,
    timezone: string,
    needed: boolean | { visits: boolean; attribution: boolean },
  ): Promise<RollupFacts> {
    const { visits: withVisits, attribution: withAttribution } =
      typeof needed === 'boolean' ? { visits: needed, attribution: false } : needed;
    const now = this.clock.now();
    const state = await this.rollups.findSiteState(siteId.toHexString());
    if (!RollupRepository.isUsable(state, timezone))
      return { usable: false, weeksThrough: null, unsettledHitDays: [], now };
    const watermark = await this.rollups.findWatermark();
    const pending = await this.stats.findPendingBuckets({ after: watermark, siteId });
    const unsettledHitDays = daySlicesOf(
      pending.map((row) => row.bucket),
      timezone,
    );
    const unsettledVisitDays = withVisits
      ? await pendingVisitDays(this.stats, { siteId, after: watermark }, this.idleMs, timezone)
      : undefined;
    const unsettledAttributionDays = withAttribution
      ? mergeDaySlices(
          unsettledHitDays,
          await pendingVisitDays(this.stats, { siteId, after: watermark }, this.idleMs, timezone, {
            wholeVisits: true,
          }),
        )
      : undefined;
    return {
      usable: true,
      weeksThrough: state.weeksThrough,
      unsettledHitDays,
      ...(unsettledVisitDays ? { unsettledVisitDays } : {}),
      ...(unsettledAttributionDays ? { unsettledAttributionDays } : {}),
      now,
    };
  }
}

/** Which costly facts a plan for `need` needs: the pending visits' days for visit sums, their whole spans for attribution. */
function factsNeeded(need: SourceNeed, query: StatsQuery<QueryDimension>): { visits: boolean; attribution: boolean } {
  const named = [...query.dimensions, ...query.filters.map((filter) => filter.dimension)];
  return { visits: need === 'visits', attribution: named.some(isAttributionDimension) };
}
