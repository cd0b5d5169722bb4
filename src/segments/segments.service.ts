import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isValidObjectId, Types, type Model } from 'mongoose';
import type { QueryDimension } from '../stats/query/dimensions.js';
import { parseFilters } from '../stats/query/parse-filters.js';
import type { Filter } from '../stats/query/stats-query.js';
import type { SiteView } from '../sites/site-view.js';
import { Segment, type SegmentDocument } from './schemas/segment.schema.js';
import { isDuplicateKeyError } from '../database/database-errors.js';

export interface StoredSegment {
  id: string;
  siteId: string;
  name: string;
  filters: Filter<QueryDimension>[];
  createdAt: Date;
  updatedAt: Date;
}

/** How many segments one site may keep: a picker's worth, and a bound on what a list returns. */
export const MAX_SEGMENTS_PER_SITE = 200;

function toStored(document: SegmentDocument): StoredSegment {
  return {
    id: document._id.toHexString(),
    siteId: document.siteId.toHexString(),
    name: document.name,
    // Stored filters were validated on save; parsing them again keeps one definition of a filter.
    filters: parseFilters(document.filters.map((filter) => [filter.operator, filter.dimension, filter.values])),
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}

/**
 * Saved segments (owner of the `segments` collection): named filter sets of a site. Filters use
 * the general query's syntax and are validated on save with the same parser the stats read uses,
 * so a saved segment can always be applied. Who may call what is the controller's business.
 */
@Injectable()
export class SegmentsService {
  constructor(@InjectModel(Segment.name) private readonly segments: Model<Segment>) {}

  async list(site: SiteView): Promise<StoredSegment[]> {
    const documents = await this.segments
      .find({ siteId: new Types.ObjectId(site.id) })
      .sort({ name: 1 })
      .limit(MAX_SEGMENTS_PER_SITE)
      .exec();
    return documents.map(toStored);
  }

  async get(site: SiteView, segmentId: string): Promise<StoredSegment> {
    return toStored(await this.find(site, segmentId, 'segment'));
  }

  async create(site: SiteView, input: { name: string; filters: unknown[] }): Promise<StoredSegment> {
    const filters = validFilters(input.filters);
    const siteId = new Types.ObjectId(site.id);
    if ((await this.segments.countDocuments({ siteId }).exec()) >= MAX_SEGMENTS_PER_SITE) {
      throw new BadRequestException(`A site keeps at most ${MAX_SEGMENTS_PER_SITE} segments; delete one first`);
    }
    try {
      return toStored(await this.segments.create({ siteId, name: input.name.trim(), filters }));
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
    const segment = await this.find(site, segmentId, 'segment');
    if (input.name !== undefined) segment.name = input.name.trim();
    if (input.filters !== undefined) segment.filters = validFilters(input.filters);
    try {
      return toStored(await segment.save());
    } catch (error) {
      if (isDuplicateKeyError(error))
        throw new ConflictException(`Site ${site.domain} already has a segment named "${input.name}"`);
      throw error;
    }
  }

  async delete(site: SiteView, segmentId: string): Promise<void> {
    const segment = await this.find(site, segmentId, 'segment');
    await this.segments.deleteOne({ _id: segment._id }).exec();
  }

  /**
   * The filters of a segment a read request names by id (`parameter` names the field in the
   * error): 400 for what cannot be an id, 404 for a segment that does not exist on this site,
   * another site's included, so nobody learns another site's segments by probing ids.
   */
  async filtersOf(site: SiteView, segmentId: string, parameter: string): Promise<Filter<QueryDimension>[]> {
    return toStored(await this.find(site, segmentId, parameter)).filters;
  }

  private async find(site: SiteView, segmentId: string, parameter: string): Promise<SegmentDocument> {
    if (!isValidObjectId(segmentId) || !/^[0-9a-f]{24}$/i.test(segmentId)) {
      throw new BadRequestException(`${parameter} must be a segment id (24 hex characters), got "${segmentId}"`);
    }
    const document = await this.segments.findOne({ _id: segmentId, siteId: new Types.ObjectId(site.id) }).exec();
    if (!document) throw new NotFoundException(`Segment ${segmentId} not found on site ${site.domain}`);
    return document;
  }
}

function validFilters(input: unknown[]): Filter<QueryDimension>[] {
  const filters = parseFilters(input, 'filters');
  if (filters.length === 0) throw new BadRequestException('filters must contain at least one filter');
  return filters;
}
