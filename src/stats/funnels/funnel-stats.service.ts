import { Injectable } from '@nestjs/common';
import type { Principal } from '../../auth/principal.js';
import { HitsRepository } from '../../hits/hits.repository.js';
import { FunnelsService } from '../../funnels/funnels.service.js';
import { goalMatchExpression } from '../../goals/goal-matching.js';
import { parseFiltersParameter } from '../query/parse-filters.js';
import { StatsEngine } from '../stats-engine.service.js';
import { StatsScopeService } from '../stats-scope.service.js';
import { buildFunnelPipeline } from './funnel.pipeline.js';
import type { FunnelQueryDto, FunnelResponseDto } from './funnel.dto.js';
import { funnelStepFigures, percentage } from './funnel-steps.js';

const FUNNEL_NOTES = [
  'a funnel step counts a visitor who completed it and every step before it, in order, within one visit; other hits may come between steps',
  'one hit completes at most one step; a visitor counts once, at the deepest step any of their visits reached',
];

/**
 * Evaluates a funnel over the raw hits and visits of any range, filters and segment: one
 * aggregation for how far each visitor got, and the `visitors` metric (the same engine as every
 * other read) for everyone in the range. Nothing is precomputed, so a late hit that merges or
 * splits visits is reflected as soon as the sessionizer has run (which `open` waits for).
 */
@Injectable()
export class FunnelStatsService {
  constructor(
    private readonly scope: StatsScopeService,
    private readonly engine: StatsEngine,
    private readonly funnels: FunnelsService,
    private readonly hits: HitsRepository,
  ) {}

  async funnel(principal: Principal, params: FunnelQueryDto): Promise<FunnelResponseDto> {
    const scope = await this.scope.open(principal, params.siteId);
    const funnel = await this.funnels.getEvaluable(scope.site, params.funnelId.trim(), 'funnelId');
    const resolved = this.scope.resolveRange(params, scope.site.timezone);
    const classification = params.classification ?? 'USER';
    const filters = await this.scope.withSegment(scope, params.segment, parseFiltersParameter(params.filters));
    const query = this.scope.query(scope, resolved.range, { classification, filters });
    const pipeline = buildFunnelPipeline(
      query,
      funnel.steps.map((step) => goalMatchExpression(step.goal!)),
    );
    const [levels, totals] = await Promise.all([
      this.hits.aggregate<{ _id: number; visitors: number }>(pipeline),
      this.engine.run(query, ['visitors']),
    ]);
    const figures = funnelStepFigures(new Map(levels.map((row) => [row._id, row.visitors])), funnel.steps.length);
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
}
