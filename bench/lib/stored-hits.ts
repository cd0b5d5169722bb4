import { MongoClient, ObjectId } from 'mongodb';
import { join } from 'node:path';
import { EmbeddedMongo } from '../../libs/embedded-mongo/src/index.js';

/**
 * Counts a site's stored hits straight from the database, after the app has stopped: the
 * MONGODB_URI it used, or its embedded store reopened from the data directory (which also
 * checks that what was acknowledged survived the restart).
 */
export async function countStoredHits(dataDir: string, siteId: string): Promise<number> {
  const external = process.env.MONGODB_URI;
  const store = external ? undefined : await EmbeddedMongo.start({ dataDir: join(dataDir, 'db') });
  const client = await MongoClient.connect(external ?? store!.uriFor('siteline'));
  try {
    return await client
      .db()
      .collection('hits')
      .countDocuments({ siteId: new ObjectId(siteId) });
  } finally {
    await client.close();
    await store?.stop();
  }
}
