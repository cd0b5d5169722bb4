import { Injectable } from '@nestjs/common';
import type { Principal } from '../../auth/principal.js';
import { HitsRepository } from '../../hits/hits.repository.js';
import { FunnelsService, type FunnelDefinition } from '../../funnels/funnels.service.js';
import { goalMatchExpression } from '../../goals/goal-matching.js';
import { parseFiltersParameter } from '../query/parse-filters.js';
import { ConversionsService } from '../conversions.service.js';
import { StatsEngine } from '../stats-engine.service.js';
import { StatsScopeService } from '../stats-scope.service.js';
import { shiftDay } from '../../common/time/calendar.js';
import type { GoalDefinition } from '../../goals/goal-matching.js';
import type { QueryDimension } from '../query/dimensions.js';
import type { StatsQuery } from '../query/stats-query.js';
import { correctBoundaries, funnelLevel, visitorsByLevel, visitorsReached } from '../rollups/funnel-counts.js';
import { FUNNEL_HIT_PROJECTION, stepsPrefilter, type FunnelRowHit } from '../rollups/funnel-rows.builder.js';
import { FunnelRowsRepository } from '../rollups/funnel-rows.repository.js';
import { RollupCoverageService } from '../rollups/rollup-coverage.service.js';
import type { FunnelPlan } from '../rollups/source-plan.js';
import { buildFunnelPipeline } from './funnel.pipeline.js';
import type { FunnelQueryDto, FunnelResponseDto } from './funnel.dto.js';
import { funnelStepFigures, percentage } from './funnel-steps.js';

const FUNNEL_NOTES = [
  'a funnel step counts a visitor who completed it and every step before it, in order, within one visit; other hits may come between steps',
  'one hit completes at most one step; a visitor counts once, at the deepest step any of their visits reached',
];

/**
 * A funnel's figures: how far each visitor got, and the `visitors` metric (the same engine as
 * every other read) for everyone in the range. How far they got comes from the funnel rows the
 * rollup job keeps when the source plan allows it (`funnelSourceCandidates`: unfiltered, whole
 * local days, unsettled ones only at the end, rows ready), else from one aggregation over the raw hits and visits of any
 * range, filters and segment (funnel.pipeline.ts). Both give the same figures.
 */
@Injectable()
export class FunnelStatsService {
  constructor(
    private readonly scope: StatsScopeService,
    private readonly engine: StatsEngine,
    private readonly funnels: FunnelsService,
    private readonly hits: HitsRepository,
    private readonly coverage: RollupCoverageService,
    private readonly funnelRows: FunnelRowsRepository,
    private readonly conversions: ConversionsService,
  ) {}

  async funnel(principal: Principal, params: FunnelQueryDto): Promise<FunnelResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const funnel = await this.funnels.getEvaluable(scope.site, params.funnelId.trim(), 'funnelId');
    const resolved = this.scope.resolveRange(params, scope.site.timezone);
    const classification = params.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, params.segment, parseFiltersParameter(params.filters), {
      goalQueryRefusedBy: 'GET /api/v1/stats/funnel',
    });
    const query = await this.conversions.withBehaviourFilters(
      this.scope.query(scope, resolved.range, { classification, filters: filters.filters }),
      filters.behaviours,
    );
    const [levels, totals] = await Promise.all([this.levels(query, funnel), this.engine.run(query, ['visitors'])]);
    const figures = funnelStepFigures(levels, funnel.steps.length);
    const visitors = totals[0]?.values.visitors ?? 0;
    const entering = figures[0].visitors;
    const meta = this.scope.meta(scope, resolved, { classification, filters, segment: params.segment });
    return {
      funnel: { id: funnel.id, name: funnel.name },
      visitors,
      enteringVisitors: entering,
      enteringVisitorsPercentage: percentage(entering, visitors),
      neverEnteringVisitors: visitors - entering,
      neverEnteringVisitorsPercentage: percentage(visitors - entering, visitors),
      steps: funnel.steps.map((step, index) => ({
        step: index + 1,
        goalId: step.goalId,
        label: step.label,
        ...figures[index],
      })),
      meta: { ...meta, notes: [...meta.notes, ...FUNNEL_NOTES] },
    };
  }

  /**
   * Visitors per deepest level reached of an evaluable funnel (every step's goal exists), from
   * the funnel rows or the raw hits: the source plan decides.
   */
  async levels(query: StatsQuery<QueryDimension>, funnel: FunnelDefinition): Promise<Map<number, number>> {
    const steps = funnel.steps.map((step) => step.goal!);
    const goalIds = funnel.steps.map((step) => step.goalId);
    const plan = await this.coverage.planFunnel(query, { id: funnel.id, goalIds });
    if (plan.source === 'funnel-rows') return this.levelsFromRows(query, funnel.id, steps, plan);
    const rows = await this.hits.aggregate<{ _id: number; visitors: number }>(
      buildFunnelPipeline(
        query,
        steps.map((step) => goalMatchExpression(step)),
      ),
    );
    return new Map(rows.map((row) => [row._id, row.visitors]));
  }

  /**
   * From the day counts of the range's settled days, then for the boundary visits — those
   * crossing the range's first midnight, the tail's or the range's last one (few: visits open at
   * a midnight), and those with step hits in the raw tail — their hits inside the range walked
   * raw and their visitors' figures corrected (`correctBoundaries`).
   */
  private async levelsFromRows(
    query: StatsQuery<QueryDimension>,
    funnelId: string,
    steps: GoalDefinition[],
    plan: Extract<FunnelPlan, { source: 'funnel-rows' }>,
  ): Promise<Map<number, number>> {
    const classification = query.classification;
    const settled = { fromDay: plan.fromDay, toDay: plan.settledEnd };
    const entries =
      settled.fromDay <= settled.toDay
        ? await this.funnelRows.findCounts(funnelId, classification, settled.fromDay, settled.toDay)
        : [];
    const reached = visitorsReached(entries, plan.fromDay, steps.length);
    const boundary = new Map<string, string>();
    for (const day of new Set([plan.fromDay, shiftDay(plan.settledEnd, 1), shiftDay(plan.toDay, 1)]))
      for (const row of await this.funnelRows.findCrossing(funnelId, classification, day))
        boundary.set(row.visitId, row.visitorKey);
    if (plan.tail)
      for (const hit of await this.hits.aggregate<FunnelRowHit>([
        {
          $match: {
            siteId: query.siteId,
            ts: { $gte: plan.tail.start, $lt: query.end },
            classification,
            ...stepsPrefilter(steps),
          },
        },
        { $project: { _id: 0, visitId: 1, visitorKey: 1 } },
      ]))
        if (hit.visitId) boundary.set(hit.visitId, hit.visitorKey);
    if (boundary.size === 0) return visitorsByLevel(reached);
    const visitorKeys = [...new Set(boundary.values())];
    const hits = await this.hits.aggregate<FunnelRowHit>([
      {
        $match: {
          siteId: query.siteId,
          visitorKey: { $in: visitorKeys },
          ts: { $gte: query.start, $lt: query.end },
          classification,
          ...stepsPrefilter(steps),
        },
      },
      { $project: FUNNEL_HIT_PROJECTION },
    ]);
    const walked = [...boundary].map(([visitId, visitorKey]) => ({
      visitId,
      visitorKey,
      level: funnelLevel(
        steps,
        hits
          .filter((hit) => hit.visitId === visitId)
          .map((hit) => ({ ...hit, id: hit._id.toHexString(), props: hit.props ?? null })),
      ),
    }));
    const counted =
      settled.fromDay <= settled.toDay
        ? await this.funnelRows.findVisitorVisits(funnelId, classification, visitorKeys, settled)
        : [];
    return visitorsByLevel(correctBoundaries(reached, counted, walked));
  }
}
