import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import { requireResourceId } from '../common/ids/resource-id.js';
import { GoalsService, type StoredGoal } from '../goals/goals.service.js';
import { GOAL_DIMENSION } from '../stats/query/goal-query.js';
import { parseReadFilter, parseReadFilters, type ReadFilters } from '../stats/query/parse-filters.js';
import type { SiteView } from '../sites/site-view.js';
import { Segment, type SegmentDocument, type StoredSegmentFilter } from './schemas/segment.schema.js';
import { isDuplicateKeyError } from '../database/database-errors.js';

/** A segment's filter as data, `[operator, dimension, values]`'s parts; goals by their current names. */
export interface SegmentFilter {
  operator: string;
  dimension: string;
  values: string[];
}

export interface StoredSegment {
  id: string;
  siteId: string;
  name: string;
  filters: SegmentFilter[];
  /** The goals its filters name that have been deleted since (by their names as last saved). */
  missingGoals: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** How many segments one site may keep: a picker's worth, and a bound on what a list returns. */
export const MAX_SEGMENTS_PER_SITE = 200;

/** A stored segment with the goals it names by id turned into their current names. */
function toStored(document: SegmentDocument, goalsById: ReadonlyMap<string, StoredGoal>): StoredSegment {
  const missingGoals: string[] = [];
  const filters = document.filters.map(({ operator, dimension, values, goalIds = [] }) => ({
    operator,
    dimension,
    values:
      goalIds.length === 0
        ? [...values]
        : goalIds.map((goalId, index) => {
            const goal = goalsById.get(goalId.toHexString());
            if (!goal) missingGoals.push(values[index]);
            return goal?.displayName ?? values[index];
          }),
  }));
  return {
    id: document._id.toHexString(),
    siteId: document.siteId.toHexString(),
    name: document.name,
    filters,
    missingGoals,
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}

/**
 * Saved segments (owner of the `segments` collection): named filter sets of a site. Filters use
 * the general query's syntax and are validated on save with the same parser the stats read uses,
 * so a saved segment can always be applied — until a goal it names is deleted (`filtersOf`).
 * Who may call what is the controller's business.
 */
@Injectable()
export class SegmentsService {
  constructor(
    @InjectModel(Segment.name) private readonly segments: Model<Segment>,
    private readonly goals: GoalsService,
  ) {}

  async list(site: SiteView): Promise<StoredSegment[]> {
    const documents = await this.segments
      .find({ siteId: new Types.ObjectId(site.id) })
      .sort({ name: 1 })
      .limit(MAX_SEGMENTS_PER_SITE)
      .exec();
    const goals = await this.goalsById(site, documents);
    return documents.map((document) => toStored(document, goals));
  }

  async get(site: SiteView, segmentId: string): Promise<StoredSegment> {
    return this.stored(site, await this.find(site, segmentId, 'segmentId'));
  }

  async create(site: SiteView, input: { name: string; filters: unknown[] }): Promise<StoredSegment> {
    const filters = await this.validFilters(site, input.filters);
    const siteId = new Types.ObjectId(site.id);
    if ((await this.segments.countDocuments({ siteId }).exec()) >= MAX_SEGMENTS_PER_SITE) {
      throw new BadRequestException(`A site keeps at most ${MAX_SEGMENTS_PER_SITE} segments; delete one first`);
    }
    try {
      return this.stored(site, await this.segments.create({ siteId, name: input.name.trim(), filters }));
    } catch (error) {
      if (isDuplicateKeyError(error))
        throw new ConflictException(`Site ${site.domain} already has a segment named "${input.name}"`);
      throw error;
    }
  }

  async update(
    site: SiteView,
    segmentId: string,
    input: { name?: string; filters?: unknown[] },
  ): Promise<StoredSegment> {
    const segment = await this.find(site, segmentId, 'segmentId');
    if (input.name !== undefined) segment.name = input.name.trim();
    if (input.filters !== undefined) segment.filters = await this.validFilters(site, input.filters);
    try {
      return this.stored(site, await segment.save());
    } catch (error) {
      if (isDuplicateKeyError(error))
        throw new ConflictException(`Site ${site.domain} already has a segment named "${input.name}"`);
      throw error;
    }
  }

  async delete(site: SiteView, segmentId: string): Promise<void> {
    const segment = await this.find(site, segmentId, 'segmentId');
    await this.segments.deleteOne({ _id: segment._id }).exec();
  }

  /**
   * The filters of a segment a read request names by id (`parameter` names the field in the
   * error): 400 for what cannot be an id, 404 for a segment that does not exist on this site,
   * another site's included, so nobody learns another site's segments by probing ids. A segment
   * naming a goal deleted since it was saved is a 409 naming the goal (as a funnel with such a
   * step is): applying the rest would silently widen it; the segment is to be edited.
   */
  async filtersOf(site: SiteView, segmentId: string, parameter: string): Promise<ReadFilters> {
    const segment = await this.stored(site, await this.find(site, segmentId, parameter));
    if (segment.missingGoals.length > 0) {
      const names = segment.missingGoals.map((name) => `"${name}"`).join(', ');
      throw new ConflictException(
        `${parameter}: segment ${segment.id} filters on goal ${names}, since deleted from site ${site.domain}; ` +
          "change the segment's filters or delete it",
      );
    }
    // Stored filters were validated on save; parsing them again keeps one definition of a filter.
    return parseReadFilters(
      segment.filters.map((filter) => [filter.operator, filter.dimension, filter.values]),
      parameter,
    );
  }

  private async stored(site: SiteView, document: SegmentDocument): Promise<StoredSegment> {
    return toStored(document, await this.goalsById(site, [document]));
  }

  /** The site's goals by id, read only when one of the segments names goals. */
  private async goalsById(site: SiteView, documents: SegmentDocument[]): Promise<Map<string, StoredGoal>> {
    const namesGoals = documents.some((document) => document.filters.some((filter) => filter.goalIds?.length));
    const goals = namesGoals ? await this.goals.listForSite(site.id) : [];
    return new Map(goals.map((goal) => [goal.id, goal]));
  }

  /**
   * Filters to save, checked by the parser the reads use (400 naming a malformed one). Every goal
   * a filter names exactly must be a goal of the site (400 naming it, as Plausible checks a goal
   * filter's names); those filters keep the goals' ids. `contains` on goal is a pattern and
   * names no goal: it is kept as given.
   */
  private async validFilters(site: SiteView, input: unknown[]): Promise<StoredSegmentFilter[]> {
    parseReadFilters(input, 'filters');
    if (input.length === 0) throw new BadRequestException('filters must contain at least one filter');
    let goalsByName: Map<string, StoredGoal> | undefined;
    const filters: StoredSegmentFilter[] = [];
    for (const [index, item] of input.entries()) {
      const name = `filters[${index}]`;
      const parsed = parseReadFilter(item, name);
      if (parsed.kind === 'plain') {
        filters.push({ ...parsed.filter, values: [...parsed.filter.values] });
        continue;
      }
      const { operator, names } = parsed.filter;
      if (operator === 'contains') {
        filters.push({ operator, dimension: GOAL_DIMENSION, values: [...names] });
        continue;
      }
      goalsByName ??= new Map((await this.goals.listForSite(site.id)).map((goal) => [goal.displayName, goal]));
      const goalIds = names.map((goalName) => {
        const goal = goalsByName!.get(goalName);
        if (!goal) throw new BadRequestException(`${name}: "${goalName}" is not a goal of site ${site.domain}`);
        return new Types.ObjectId(goal.id);
      });
      filters.push({ operator, dimension: GOAL_DIMENSION, values: [...names], goalIds });
    }
    return filters;
  }

  private async find(site: SiteView, segmentId: string, parameter: string): Promise<SegmentDocument> {
    requireResourceId(segmentId, parameter, 'segment');
    const document = await this.segments.findOne({ _id: segmentId, siteId: new Types.ObjectId(site.id) }).exec();
    if (!document) throw new NotFoundException(`Segment ${segmentId} not found on site ${site.domain}`);
    return document;
  }
}
