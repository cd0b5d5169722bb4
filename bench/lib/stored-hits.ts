import { calculateObjectSize } from 'bson';
import { MongoClient, ObjectId, type Db } from 'mongodb';
import { join } from 'node:path';
import { EmbeddedMongo } from '../../libs/embedded-mongo/src/index.js';

/** The database name an app of this bench run uses on an external MongoDB (one per app). */
export function externalUri(database: string): string | undefined {
  const external = process.env.MONGODB_URI;
  if (!external) return undefined;
  const url = new URL(external);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Opens a stopped app's database: its embedded store reopened from the data directory (which
 * also proves that what was acknowledged survived the restart), or the external MongoDB.
 */
async function withDatabase<T>(dataDir: string, database: string, use: (db: Db) => Promise<T>): Promise<T> {
  const external = externalUri(database);
  const store = external ? undefined : await EmbeddedMongo.start({ dataDir: join(dataDir, 'db') });
  const client = await MongoClient.connect(external ?? store!.uriFor('siteline'));
  try {
    return await use(client.db());
  } finally {
    await client.close();
    await store?.stop();
  }
}

export function countStoredHits(dataDir: string, database: string, siteId: string): Promise<number> {
  return withDatabase(dataDir, database, (db) =>
    db.collection('hits').countDocuments({ siteId: new ObjectId(siteId) }),
  );
}

export interface CollectionFootprint {
  collection: string;
  documents: number;
  /** Mean BSON size of a document (from a sample of up to 2000). */
  averageBytes: number;
  totalMb: number;
  /**
   * Bytes of the collection's indexes: the store's own figure where it reports one (MongoDB's
   * `collStats.totalIndexSize`); on the embedded store, which keeps its indexes as in-memory
   * sorted lists and reports no size, the BSON size of every index key of the sample plus an
   * 8-byte record reference per entry, scaled to the collection (marked `indexBytesEstimated`).
   */
  indexBytes?: number;
  indexBytesEstimated?: boolean;
  indexes?: number;
}

/** Documents and bytes of every collection: how much each hit costs in storage. */
export function footprint(dataDir: string, database: string): Promise<CollectionFootprint[]> {
  return withDatabase(dataDir, database, async (db) => {
    const rows: CollectionFootprint[] = [];
    for (const { name } of await db.listCollections().toArray()) {
      const collection = db.collection(name);
      const documents = await collection.countDocuments();
      const sample = await collection.find().limit(2000).toArray();
      const averageBytes = sample.length
        ? Math.round(sample.reduce((sum, document) => sum + calculateObjectSize(document), 0) / sample.length)
        : 0;
      const stats = (await db.command({ collStats: name })) as { totalIndexSize?: number; nindexes?: number };
      const indexes = await collection.listIndexes().toArray();
      const estimated = typeof stats.totalIndexSize !== 'number';
      const indexBytes = estimated ? estimateIndexBytes(sample, indexes, documents) : stats.totalIndexSize!;
      rows.push({
        collection: name,
        documents,
        averageBytes,
        totalMb: Math.round(((documents * averageBytes) / 2 ** 20) * 10) / 10,
        indexBytes,
        indexBytesEstimated: estimated,
        indexes: indexes.length,
      });
    }
    return rows.sort((a, b) => b.documents - a.documents);
  });
}

/** Key bytes of every index over the sample (plus a record reference per entry), scaled to `documents`. */
function estimateIndexBytes(
  sample: Array<Record<string, unknown>>,
  indexes: Array<{ key: Record<string, unknown> }>,
  documents: number,
): number {
  if (sample.length === 0) return 0;
  let bytes = 0;
  for (const index of indexes) {
    for (const document of sample) {
      const key: Record<string, unknown> = {};
      for (const field of Object.keys(index.key)) key[field] = valueAt(document, field) ?? null;
      bytes += calculateObjectSize(key) + 8;
    }
  }
  return Math.round((bytes / sample.length) * documents);
}

function valueAt(document: Record<string, unknown>, path: string): unknown {
  let value: unknown = document;
  for (const part of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
  return value;
}
