import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isValidObjectId, Types, type Model } from 'mongoose';
import type { KeyScope } from '../auth/principal.js';
import { SiteKey, type SiteKeyDocument } from './schemas/site-key.schema.js';

export interface StoredSiteKey {
  id: string;
  siteId: string;
  prefix: string;
  scopes: KeyScope[];
  createdAt: Date;
  revokedAt: Date | null;
}

function toStoredKey(document: SiteKeyDocument): StoredSiteKey {
  return {
    id: document._id.toHexString(),
    siteId: document.siteId.toHexString(),
    prefix: document.prefix,
    scopes: [...document.scopes],
    createdAt: document.createdAt,
    revokedAt: document.revokedAt ?? null,
  };
}

@Injectable()
export class SiteKeysRepository {
  constructor(@InjectModel(SiteKey.name) private readonly keys: Model<SiteKey>) {}

  async create(siteId: string, keyHash: string, prefix: string, scopes: KeyScope[]): Promise<StoredSiteKey> {
    return toStoredKey(await this.keys.create({ siteId: new Types.ObjectId(siteId), keyHash, prefix, scopes }));
  }

  async findActiveByHash(keyHash: string): Promise<StoredSiteKey | null> {
    const document = await this.keys.findOne({ keyHash, revokedAt: null }).exec();
    return document ? toStoredKey(document) : null;
  }

  async listForSite(siteId: string): Promise<StoredSiteKey[]> {
    const documents = await this.keys
      .find({ siteId: new Types.ObjectId(siteId) })
      .sort({ createdAt: 1, _id: 1 })
      .exec();
    return documents.map(toStoredKey);
  }

  async findForSite(siteId: string, keyId: string): Promise<StoredSiteKey | null> {
    // Both ids come from the request path: a malformed one names no key (404), not a BSONError.
    if (!isValidObjectId(keyId) || !isValidObjectId(siteId)) return null;
    const document = await this.keys.findOne({ _id: keyId, siteId: new Types.ObjectId(siteId) }).exec();
    return document ? toStoredKey(document) : null;
  }

  /** Returns the hash of the key it revoked (for cache eviction), or null when none was active. */
  async revoke(siteId: string, keyId: string, at: Date): Promise<string | null> {
    if (!isValidObjectId(keyId) || !isValidObjectId(siteId)) return null;
    const document = await this.keys
      .findOneAndUpdate(
        { _id: keyId, siteId: new Types.ObjectId(siteId), revokedAt: null },
        { $set: { revokedAt: at } },
      )
      .exec();
    return document ? document.keyHash : null;
  }

  async revokeAllForSite(siteId: string, at: Date): Promise<void> {
    await this.keys
      .updateMany({ siteId: new Types.ObjectId(siteId), revokedAt: null }, { $set: { revokedAt: at } })
      .exec();
  }
}
