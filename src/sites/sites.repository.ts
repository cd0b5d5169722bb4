import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isValidObjectId, type Model } from 'mongoose';
import { Site, type SiteDocument } from './schemas/site.schema.js';
import type { SiteView } from './site-view.js';

export type SiteFields = Omit<SiteView, 'id'>;

export interface StoredSite extends SiteView {
  createdAt: Date;
}

function toStoredSite(document: SiteDocument): StoredSite {
  return {
    id: document._id.toHexString(),
    domain: document.domain,
    name: document.name,
    timezone: document.timezone,
    allowedOrigins: [...document.allowedOrigins],
    respectDoNotTrack: document.respectDoNotTrack,
    createdAt: document.createdAt,
  };
}

@Injectable()
export class SitesRepository {
  constructor(@InjectModel(Site.name) private readonly sites: Model<Site>) {}

  async create(fields: SiteFields): Promise<StoredSite> {
    return toStoredSite(await this.sites.create(fields));
  }

  async findById(id: string): Promise<StoredSite | null> {
    if (!isValidObjectId(id)) return null;
    const document = await this.sites.findById(id).exec();
    return document ? toStoredSite(document) : null;
  }

  async findByDomain(domain: string): Promise<StoredSite | null> {
    const document = await this.sites.findOne({ domain }).exec();
    return document ? toStoredSite(document) : null;
  }

  async findManyByIds(ids: string[]): Promise<StoredSite[]> {
    const valid = ids.filter((id) => isValidObjectId(id));
    if (valid.length === 0) return [];
    const documents = await this.sites
      .find({ _id: { $in: valid } })
      .sort({ domain: 1 })
      .exec();
    return documents.map(toStoredSite);
  }

  async listAll(): Promise<StoredSite[]> {
    const documents = await this.sites.find().sort({ domain: 1 }).exec();
    return documents.map(toStoredSite);
  }

  async update(id: string, fields: Partial<SiteFields>): Promise<StoredSite | null> {
    if (!isValidObjectId(id)) return null;
    const document = await this.sites.findByIdAndUpdate(id, { $set: fields }, { returnDocument: 'after' }).exec();
    return document ? toStoredSite(document) : null;
  }

  async delete(id: string): Promise<boolean> {
    if (!isValidObjectId(id)) return false;
    const result = await this.sites.deleteOne({ _id: id }).exec();
    return result.deletedCount === 1;
  }
}
