import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isValidObjectId, Types, type Model } from 'mongoose';
import { Goal, type GoalDocument, type GoalKind } from './schemas/goal.schema.js';

export interface StoredGoal {
  id: string;
  siteId: string;
  kind: GoalKind;
  pagePath: string | null;
  eventName: string | null;
  property: { key: string; value: string } | null;
  displayName: string;
  revenueCurrency: string | null;
  createdAt: Date;
}

export type GoalFields = Omit<StoredGoal, 'id' | 'createdAt'>;

function toStoredGoal(document: GoalDocument): StoredGoal {
  return {
    id: document._id.toHexString(),
    siteId: document.siteId.toHexString(),
    kind: document.kind,
    pagePath: document.pagePath ?? null,
    eventName: document.eventName ?? null,
    property:
      document.propertyKey !== null && document.propertyKey !== undefined
        ? { key: document.propertyKey, value: document.propertyValue ?? '' }
        : null,
    displayName: document.displayName,
    revenueCurrency: document.revenueCurrency ?? null,
    createdAt: document.createdAt,
  };
}

@Injectable()
export class GoalsRepository {
  constructor(@InjectModel(Goal.name) private readonly goals: Model<Goal>) {}

  async create(fields: GoalFields): Promise<StoredGoal> {
    const { property, siteId, ...rest } = fields;
    const document = await this.goals.create({
      ...rest,
      siteId: new Types.ObjectId(siteId),
      propertyKey: property?.key ?? null,
      propertyValue: property?.value ?? null,
    });
    return toStoredGoal(document);
  }

  async listForSite(siteId: string): Promise<StoredGoal[]> {
    const documents = await this.goals
      .find({ siteId: new Types.ObjectId(siteId) })
      .sort({ createdAt: 1, _id: 1 })
      .exec();
    return documents.map(toStoredGoal);
  }

  /** Every goal of every site (the rollup job keeps conversion rows per goal). */
  async listAll(): Promise<StoredGoal[]> {
    const documents = await this.goals.find({}).sort({ createdAt: 1, _id: 1 }).exec();
    return documents.map(toStoredGoal);
  }

  async findForSite(siteId: string, goalId: string): Promise<StoredGoal | null> {
    // The goal id comes from the request path: a malformed one names no goal (404), not a BSONError.
    if (!isValidObjectId(goalId)) return null;
    const document = await this.goals.findOne({ _id: goalId, siteId: new Types.ObjectId(siteId) }).exec();
    return document ? toStoredGoal(document) : null;
  }

  async update(
    siteId: string,
    goalId: string,
    fields: Partial<Pick<GoalFields, 'displayName' | 'revenueCurrency'>>,
  ): Promise<StoredGoal | null> {
    if (!isValidObjectId(goalId)) return null;
    const document = await this.goals
      .findOneAndUpdate(
        { _id: goalId, siteId: new Types.ObjectId(siteId) },
        { $set: fields },
        { returnDocument: 'after' },
      )
      .exec();
    return document ? toStoredGoal(document) : null;
  }

  async delete(siteId: string, goalId: string): Promise<boolean> {
    if (!isValidObjectId(goalId)) return false;
    const result = await this.goals.deleteOne({ _id: goalId, siteId: new Types.ObjectId(siteId) }).exec();
    return result.deletedCount > 0;
  }
}
