import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import type { GoalDefinition } from '../goals/goal-matching.js';
import { goalDefinition, GoalsService, type StoredGoal } from '../goals/goals.service.js';
import type { SiteView } from '../sites/site-view.js';
import { Funnel, type FunnelDocument } from './schemas/funnel.schema.js';
import { requireResourceId } from '../common/ids/resource-id.js';
import { isDuplicateKeyError } from '../database/database-errors.js';

/** Plausible's bounds: a funnel has at least 2 steps, at most 8. */
export const MIN_FUNNEL_STEPS = 2;
export const MAX_FUNNEL_STEPS = 8;
/** How many funnels one site may keep: a picker's worth, and a bound on what a list returns. */
export const MAX_FUNNELS_PER_SITE = 100;

export interface FunnelStepDefinition {
  goalId: string;
  label: string;
  /** What the step's goal matches (see goals/goal-matching.ts); null once the goal was deleted. */
  goal: GoalDefinition | null;
}

export interface FunnelDefinition {
  id: string;
  siteId: string;
  name: string;
  steps: FunnelStepDefinition[];
  createdAt: Date;
  updatedAt: Date;
}

/** The label of a step whose goal was deleted after the funnel was saved. */
export const DELETED_GOAL_LABEL = '(deleted goal)';

/**
 * Funnels (owner of the `funnels` collection): a site's ordered goal steps. Steps name goals by
 * id and are resolved through the goals module on every read, so renaming a goal renames the
 * step. Who may call what is the controller's business; evaluation is the stats module's.
 */
@Injectable()
export class FunnelsService {
  constructor(
    @InjectModel(Funnel.name) private readonly funnels: Model<Funnel>,
    private readonly goals: GoalsService,
  ) {}

  async list(site: SiteView): Promise<FunnelDefinition[]> {
    const documents = await this.funnels
      .find({ siteId: new Types.ObjectId(site.id) })
      .sort({ name: 1 })
      .limit(MAX_FUNNELS_PER_SITE)
      .exec();
    return Promise.all(documents.map((document) => this.resolve(site.id, document)));
  }

  /**
   * Every funnel of these sites (of every site without `siteIds`) with its steps' goals: the
   * rollup job keeps rows per saved funnel (docs/funnels.md, "Performance").
   */
  async listAll(siteIds?: readonly string[]): Promise<FunnelDefinition[]> {
    const filter = siteIds ? { siteId: { $in: siteIds.map((id) => new Types.ObjectId(id)) } } : {};
    const documents = await this.funnels.find(filter).sort({ _id: 1 }).exec();
    const goalsBySite = new Map<string, Promise<Map<string, StoredGoal>>>();
    return Promise.all(
      documents.map((document) => {
        const siteId = document.siteId.toHexString();
        if (!goalsBySite.has(siteId))
          goalsBySite.set(
            siteId,
            this.goals.listForSite(siteId).then((goals) => new Map(goals.map((goal) => [goal.id, goal]))),
          );
        return goalsBySite.get(siteId)!.then((goals) => this.resolveWith(goals, document));
      }),
    );
  }

  /** One funnel with its steps' goals; `parameter` names the id in a 400/404. */
  async get(site: SiteView, funnelId: string, parameter = 'funnelId'): Promise<FunnelDefinition> {
    return this.resolve(site.id, await this.find(site, funnelId, parameter));
  }

  async create(site: SiteView, input: { name: string; goalIds: string[] }): Promise<FunnelDefinition> {
    const goalIds = await this.validGoalIds(site, input.goalIds);
    const siteId = new Types.ObjectId(site.id);
    if ((await this.funnels.countDocuments({ siteId }).exec()) >= MAX_FUNNELS_PER_SITE) {
      throw new BadRequestException(`A site keeps at most ${MAX_FUNNELS_PER_SITE} funnels; delete one first`);
    }
    try {
      return await this.resolve(site.id, await this.funnels.create({ siteId, name: input.name.trim(), goalIds }));
    } catch (error) {
      if (isDuplicateKeyError(error)) throw duplicateName(site, input.name);
      throw error;
    }
  }

  async update(
    site: SiteView,
    funnelId: string,
    input: { name?: string; goalIds?: string[] },
  ): Promise<FunnelDefinition> {
    const funnel = await this.find(site, funnelId, 'funnelId');
    if (input.name !== undefined) funnel.name = input.name.trim();
    if (input.goalIds !== undefined) funnel.goalIds = await this.validGoalIds(site, input.goalIds);
    try {
      return await this.resolve(site.id, await funnel.save());
    } catch (error) {
      if (isDuplicateKeyError(error)) throw duplicateName(site, input.name ?? funnel.name);
      throw error;
    }
  }

  async delete(site: SiteView, funnelId: string): Promise<void> {
    const funnel = await this.find(site, funnelId, 'funnelId');
    await this.funnels.deleteOne({ _id: funnel._id }).exec();
  }

  private async find(site: SiteView, funnelId: string, parameter: string): Promise<FunnelDocument> {
    requireResourceId(funnelId, parameter, 'funnel');
    const document = await this.funnels.findOne({ _id: funnelId, siteId: new Types.ObjectId(site.id) }).exec();
    if (!document) throw new NotFoundException(`Funnel ${funnelId} not found on site ${site.domain}`);
    return document;
  }

  /** Each id must be a goal of this site, each goal once (a repeated goal would be a step nobody can leave). */
  private async validGoalIds(site: SiteView, goalIds: string[]): Promise<Types.ObjectId[]> {
    if (new Set(goalIds).size !== goalIds.length) throw new BadRequestException('goalIds must not repeat a goal');
    const known = new Set((await this.goals.listForSite(site.id)).map((goal) => goal.id));
    goalIds.forEach((goalId, index) => {
      // A reference in the body: what names no goal of the site is a bad request, not a 404.
      if (!known.has(requireResourceId(goalId, `goalIds[${index}]`, 'goal'))) {
        throw new BadRequestException(`goalIds[${index}]: ${goalId} is not a goal of site ${site.domain}`);
      }
    });
    return goalIds.map((goalId) => new Types.ObjectId(goalId));
  }

  /**
   * A funnel ready to evaluate: every step's goal still exists. A goal deleted after the funnel
   * was saved leaves a step that cannot be evaluated: 409 naming it, so the funnel is edited
   * rather than silently changed. `parameter` names the id in a 400/404.
   */
  async getEvaluable(site: SiteView, funnelId: string, parameter = 'funnelId'): Promise<FunnelDefinition> {
    const funnel = await this.get(site, funnelId, parameter);
    const missing = funnel.steps.findIndex((step) => step.goal === null);
    if (missing >= 0) {
      throw new ConflictException(
        `Step ${missing + 1} of funnel "${funnel.name}" names goal ${funnel.steps[missing].goalId}, which was deleted; change the funnel's goalIds`,
      );
    }
    return funnel;
  }

  /** The steps' current goals; a deleted goal's step keeps its id, labelled as deleted. */
  private async resolve(siteId: string, document: FunnelDocument): Promise<FunnelDefinition> {
    return this.resolveWith(new Map((await this.goals.listForSite(siteId)).map((goal) => [goal.id, goal])), document);
  }

  private resolveWith(goals: ReadonlyMap<string, StoredGoal>, document: FunnelDocument): FunnelDefinition {
    const steps = document.goalIds.map((objectId) => {
      const goal = goals.get(objectId.toHexString());
      return goal
        ? { goalId: goal.id, label: goal.displayName, goal: goalDefinition(goal) }
        : { goalId: objectId.toHexString(), label: DELETED_GOAL_LABEL, goal: null };
    });
    return {
      id: document._id.toHexString(),
      siteId: document.siteId.toHexString(),
      name: document.name,
      steps,
      createdAt: document.createdAt,
      updatedAt: document.updatedAt,
    };
  }
}

function duplicateName(site: SiteView, name: string): ConflictException {
  return new ConflictException(`Site ${site.domain} already has a funnel named "${name}"`);
}
