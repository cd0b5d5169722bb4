import { Injectable } from '@nestjs/common';
import type { Principal } from '../../auth/principal.js';
import { HitsRepository } from '../../hits/hits.repository.js';
import { FunnelsService, type FunnelDefinition } from '../../funnels/funnels.service.js';
import { goalMatchExpression } from '../../goals/goal-matching.js';
import { parseFiltersParameter } from '../query/parse-filters.js';
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
 * settled local days, rows ready), else from one aggregation over the raw hits and visits of any
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
  ) {}

  async funnel(principal: Principal, params: FunnelQueryDto): Promise<FunnelResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const funnel = await this.funnels.getEvaluable(scope.site, params.funnelId.trim(), 'funnelId');
    const resolved = this.scope.resolveRange(params, scope.site.timezone);
    const classification = params.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, params.segment, parseFiltersParameter(params.filters));
    const query = this.scope.query(scope, resolved.range, { classification, filters });
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
   * From the day counts of the range, then for the visits crossing its first or last midnight
   * (few: visits spanning a midnight), their hits inside the range walked raw and their
   * visitors' figures corrected (`correctBoundaries`).
   */
  private async levelsFromRows(
    query: StatsQuery<QueryDimension>,
    funnelId: string,
    steps: GoalDefinition[],
    days: { fromDay: string; toDay: string },
  ): Promise<Map<number, number>> {
    const classification = query.classification;
    const entries = await this.funnelRows.findCounts(funnelId, classification, days.fromDay, days.toDay);
    const reached = visitorsReached(entries, days.fromDay, steps.length);
    const crossing = new Map(
      [
        ...(await this.funnelRows.findCrossing(funnelId, classification, days.fromDay)),
        ...(await this.funnelRows.findCrossing(funnelId, classification, shiftDay(days.toDay, 1))),
      ].map((row) => [row._id, row]),
    );
    if (crossing.size === 0) return visitorsByLevel(reached);
    const visitorKeys = [...new Set([...crossing.values()].map((row) => row.visitorKey))];
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
    const boundary = [...crossing.values()].map((row) => ({
      visitId: row.visitId,
      visitorKey: row.visitorKey,
      level: funnelLevel(
        steps,
        hits
          .filter((hit) => hit.visitId === row.visitId)
          .map((hit) => ({ ...hit, id: hit._id.toHexString(), props: hit.props ?? null })),
      ),
    }));
    const counted = await this.funnelRows.findVisitorVisits(funnelId, classification, visitorKeys, days);
    return visitorsByLevel(correctBoundaries(reached, counted, boundary));
  }
}
