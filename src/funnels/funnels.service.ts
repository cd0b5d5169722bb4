import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import { PAGEVIEW } from '../ingestion/schemas/hit.schema.js';
import type { SiteView } from '../sites/site-view.js';
import { defaultStepLabel, type FunnelStepMatch } from './funnel-step-matching.js';
import { Funnel, type FunnelDocument, type StoredFunnelStep } from './schemas/funnel.schema.js';

/** Plausible's bounds: a funnel has at least 2 steps, at most 8. */
export const MIN_FUNNEL_STEPS = 2;
export const MAX_FUNNEL_STEPS = 8;
/** How many funnels one site may keep: a picker's worth, and a bound on what a list returns. */
export const MAX_FUNNELS_PER_SITE = 100;

export interface FunnelStep {
  label: string;
  match: FunnelStepMatch;
}

export interface FunnelDefinition {
  id: string;
  siteId: string;
  name: string;
  steps: FunnelStep[];
  createdAt: Date;
  updatedAt: Date;
}

/** A step as the API takes it (FunnelStepInputDto, already checked field by field). */
export interface FunnelStepInput {
  pagePath?: string;
  eventName?: string;
  property?: { key: string; value: string };
  label?: string;
}

const OBJECT_ID = /^[0-9a-f]{24}$/i;
const isDuplicateKey = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;

function toStep(stored: StoredFunnelStep): FunnelStep {
  const match: FunnelStepMatch =
    stored.kind === 'page'
      ? { kind: 'page', pagePath: stored.pagePath ?? '' }
      : {
          kind: 'event',
          eventName: stored.eventName ?? '',
          property: stored.propertyKey !== null ? { key: stored.propertyKey, value: stored.propertyValue ?? '' } : null,
        };
  return { label: stored.label, match };
}

function toDefinition(document: FunnelDocument): FunnelDefinition {
  return {
    id: document._id.toHexString(),
    siteId: document.siteId.toHexString(),
    name: document.name,
    steps: document.steps.map(toStep),
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}

/**
 * Funnels (owner of the `funnels` collection): a site's ordered steps, each a page pattern or an
 * event in a goal's shape. Who may call what is the controller's business; evaluation is the
 * stats module's, which reads a funnel through `get`.
 */
@Injectable()
export class FunnelsService {
  constructor(@InjectModel(Funnel.name) private readonly funnels: Model<Funnel>) {}

  async list(site: SiteView): Promise<FunnelDefinition[]> {
    const documents = await this.funnels
      .find({ siteId: new Types.ObjectId(site.id) })
      .sort({ name: 1 })
      .limit(MAX_FUNNELS_PER_SITE)
      .exec();
    return documents.map(toDefinition);
  }

  /** One funnel of the site; `parameter` names the id in a 400/404. */
  async get(site: SiteView, funnelId: string, parameter = 'funnelId'): Promise<FunnelDefinition> {
    return toDefinition(await this.find(site, funnelId, parameter));
  }

  async create(site: SiteView, input: { name: string; steps: FunnelStepInput[] }): Promise<FunnelDefinition> {
    const steps = validSteps(input.steps);
    const siteId = new Types.ObjectId(site.id);
    if ((await this.funnels.countDocuments({ siteId }).exec()) >= MAX_FUNNELS_PER_SITE) {
      throw new BadRequestException(`A site keeps at most ${MAX_FUNNELS_PER_SITE} funnels; delete one first`);
    }
    try {
      return toDefinition(await this.funnels.create({ siteId, name: input.name.trim(), steps }));
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateName(site, input.name);
      throw error;
    }
  }

  async update(
    site: SiteView,
    funnelId: string,
    input: { name?: string; steps?: FunnelStepInput[] },
  ): Promise<FunnelDefinition> {
    const funnel = await this.find(site, funnelId, 'funnelId');
    if (input.name !== undefined) funnel.name = input.name.trim();
    if (input.steps !== undefined) funnel.steps = validSteps(input.steps);
    try {
      return toDefinition(await funnel.save());
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateName(site, input.name ?? funnel.name);
      throw error;
    }
  }

  async delete(site: SiteView, funnelId: string): Promise<void> {
    const funnel = await this.find(site, funnelId, 'funnelId');
    await this.funnels.deleteOne({ _id: funnel._id }).exec();
  }

  private async find(site: SiteView, funnelId: string, parameter: string): Promise<FunnelDocument> {
    if (!OBJECT_ID.test(funnelId)) {
      throw new BadRequestException(`${parameter} must be a funnel id (24 hex characters), got "${funnelId}"`);
    }
    const document = await this.funnels.findOne({ _id: funnelId, siteId: new Types.ObjectId(site.id) }).exec();
    if (!document) throw new NotFoundException(`Funnel ${funnelId} not found on site ${site.domain}`);
    return document;
  }
}

/**
 * The DTO checks each field; this checks how they go together: a step is a page or an event,
 * a property belongs to an event, and no step repeats another (a repeated step could never be
 * left). 400 naming the step.
 */
function validSteps(inputs: FunnelStepInput[]): StoredFunnelStep[] {
  const seen = new Set<string>();
  return inputs.map((input, index) => {
    const name = `steps[${index}]`;
    const eventName = input.eventName?.trim();
    if ((input.pagePath === undefined) === (eventName === undefined)) {
      throw new BadRequestException(`${name}: give either pagePath (a page step) or eventName (an event step)`);
    }
    if (input.pagePath !== undefined && input.property) {
      throw new BadRequestException(`${name}: property is only for event steps`);
    }
    if (eventName === PAGEVIEW) {
      throw new BadRequestException(`${name}: eventName cannot be pageview: use a page step (pagePath)`);
    }
    const match: FunnelStepMatch =
      input.pagePath !== undefined
        ? { kind: 'page', pagePath: input.pagePath }
        : { kind: 'event', eventName: eventName!, property: input.property ?? null };
    const key = JSON.stringify(match);
    if (seen.has(key)) throw new BadRequestException(`${name} repeats an earlier step`);
    seen.add(key);
    return {
      kind: match.kind,
      pagePath: match.kind === 'page' ? match.pagePath : null,
      eventName: match.kind === 'event' ? match.eventName : null,
      propertyKey: match.kind === 'event' ? (match.property?.key ?? null) : null,
      propertyValue: match.kind === 'event' ? (match.property?.value ?? null) : null,
      label: input.label?.trim() || defaultStepLabel(match),
    };
  });
}

function duplicateName(site: SiteView, name: string): ConflictException {
  return new ConflictException(`Site ${site.domain} already has a funnel named "${name}"`);
}
