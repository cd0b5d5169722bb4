import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { PAGEVIEW } from '../hits/hit.schema.js';
import { goalMatchExpression, goalPrefilter, type GoalDefinition } from './goal-matching.js';
import { GoalsRepository, type GoalFields, type StoredGoal } from './goals.repository.js';
import { isDuplicateKeyError } from '../database/database-errors.js';
import { requireResourceId } from '../common/ids/resource-id.js';
import type { SiteView } from '../sites/site-view.js';

/** A goal as other modules see it (stats, funnels): the module's public shape of a stored goal. */
export type { StoredGoal } from './goals.repository.js';

export interface GoalInput {
  pagePath?: string;
  eventName?: string;
  property?: { key: string; value: string };
  displayName?: string;
  revenueCurrency?: string;
}

export interface GoalChanges {
  displayName?: string;
  revenueCurrency?: string | null;
}

export const MAX_GOALS_PER_SITE = 100;

/** The site a goal route names, resolved by the controller. */
type GoalSite = Pick<SiteView, 'id' | 'domain'>;

const goalNotFound = (site: GoalSite, goalId: string) =>
  new NotFoundException(`Goal ${goalId} not found on site ${site.domain}`);

/** What a stored goal matches (see goal-matching.ts). */
export function goalDefinition(goal: StoredGoal): GoalDefinition {
  return goal.kind === 'page'
    ? { kind: 'page', pagePath: goal.pagePath ?? '' }
    : { kind: 'event', eventName: goal.eventName ?? '', property: goal.property };
}

/**
 * A site's goals (the `goals` collection). Other modules (stats, funnels) read goals and their
 * match expressions through this service; they never query the collection. The caller checks
 * that the site exists and may be read or managed.
 */
@Injectable()
export class GoalsService {
  constructor(private readonly goals: GoalsRepository) {}

  async create(siteId: string, input: GoalInput): Promise<StoredGoal> {
    const fields = validatedGoal(siteId, input);
    // Every goal is one more condition in each conversion query of the site: keep that bounded.
    if ((await this.goals.listForSite(siteId)).length >= MAX_GOALS_PER_SITE) {
      throw new BadRequestException(`A site has at most ${MAX_GOALS_PER_SITE} goals; delete one first`);
    }
    try {
      return await this.goals.create(fields);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw duplicateName(fields.displayName);
      throw error;
    }
  }

  listForSite(siteId: string): Promise<StoredGoal[]> {
    return this.goals.listForSite(siteId);
  }

  /** Every site's goals: the rollup job keeps the conversion rows of each (src/stats/rollups/goal-conversions.builder.ts). */
  listAll(): Promise<StoredGoal[]> {
    return this.goals.listAll();
  }

  /** 400 naming `goalId` for what cannot be an id, 404 naming the id for no goal of the site. */
  async get(site: GoalSite, goalId: string): Promise<StoredGoal> {
    const goal = await this.goals.findForSite(site.id, requireResourceId(goalId, 'goalId', 'goal'));
    if (!goal) throw goalNotFound(site, goalId);
    return goal;
  }

  async update(site: GoalSite, goalId: string, changes: GoalChanges): Promise<StoredGoal> {
    const goal = await this.get(site, goalId);
    if (changes.revenueCurrency && goal.kind !== 'event') {
      throw new BadRequestException('revenueCurrency is only for event goals');
    }
    const fields: GoalChanges = {};
    if (changes.displayName !== undefined) {
      fields.displayName = changes.displayName.trim();
      if (!fields.displayName) throw new BadRequestException('displayName should not be empty');
    }
    if (changes.revenueCurrency !== undefined) fields.revenueCurrency = changes.revenueCurrency?.toUpperCase() ?? null;
    try {
      const updated = await this.goals.update(site.id, goalId, fields);
      if (!updated) throw goalNotFound(site, goalId);
      return updated;
    } catch (error) {
      if (isDuplicateKeyError(error)) throw duplicateName(fields.displayName ?? goal.displayName);
      throw error;
    }
  }

  async delete(site: GoalSite, goalId: string): Promise<void> {
    requireResourceId(goalId, 'goalId', 'goal');
    if (!(await this.goals.delete(site.id, goalId))) throw goalNotFound(site, goalId);
  }

  /** The goal as an aggregation expression over a hit document (for `$match: { $expr }`, `$cond`, `$filter`). */
  matchExpression(goal: StoredGoal): Record<string, unknown> {
    return goalMatchExpression(goalDefinition(goal));
  }

  /** A query-language superset of the goal's hits, to `$match` before `matchExpression` (see `goalPrefilter`). */
  prefilter(goal: StoredGoal): Record<string, unknown> {
    return goalPrefilter(goalDefinition(goal));
  }
}

function duplicateName(name: string): ConflictException {
  return new ConflictException(`A goal named ${JSON.stringify(name)} already exists for this site`);
}

/** The DTO checks each field; this checks how they go together and fills the default name. */
function validatedGoal(siteId: string, input: GoalInput): GoalFields {
  const pagePath = input.pagePath;
  const eventName = input.eventName?.trim();
  if (pagePath === undefined && eventName === undefined)
    throw new BadRequestException('pagePath or eventName is required');
  if (pagePath !== undefined && eventName !== undefined) {
    throw new BadRequestException('Give either pagePath (a page goal) or eventName (an event goal), not both');
  }
  if (pagePath !== undefined) {
    if (input.property) throw new BadRequestException('property is only for event goals');
    if (input.revenueCurrency) throw new BadRequestException('revenueCurrency is only for event goals');
    return {
      siteId,
      kind: 'page',
      pagePath,
      eventName: null,
      property: null,
      displayName: input.displayName?.trim() || `Visit ${pagePath}`,
      revenueCurrency: null,
    };
  }
  if (eventName === PAGEVIEW) throw new BadRequestException('eventName cannot be pageview: use a page goal (pagePath)');
  return {
    siteId,
    kind: 'event',
    pagePath: null,
    eventName: eventName!,
    property: input.property ? { key: input.property.key, value: input.property.value } : null,
    displayName: input.displayName?.trim() || eventName!,
    revenueCurrency: input.revenueCurrency?.toUpperCase() ?? null,
  };
}
