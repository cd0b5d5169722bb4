import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { EmbeddedMongo } from '../src/index.js';

/**
 * Each spec gets its own target: a fresh embedded store on a random port, or — when
 * MONGODB_URI is set — a uniquely named database on that real server, dropped afterwards.
 * Running the same assertions against both is what makes this a conformance suite.
 */
export interface Target {
  readonly uri: string;
  readonly dbName: string;
  readonly client: MongoClient;
  readonly db: Db;
  readonly embedded: EmbeddedMongo | undefined;
  stop(): Promise<void>;
}

export const againstRealMongo = Boolean(process.env.MONGODB_URI);

export async function startTarget(label: string): Promise<Target> {
  const dbName = `conf_${label}_${randomBytes(4).toString('hex')}`;
  const embedded = againstRealMongo ? undefined : await EmbeddedMongo.start();
  const uri = process.env.MONGODB_URI ?? embedded!.uri;
  const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 5000 });
  const db = client.db(dbName);
  return {
    uri,
    dbName,
    client,
    db,
    embedded,
    async stop() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
      await embedded?.stop();
    },
  };
}

/**
 * What kind of server a target is, from its `hello` reply. Transactions and `txnNumber` depend
 * on it: a standalone mongod refuses both (code 20), a replica set or mongos accepts them, and the
 * embedded store accepts `txnNumber` (retryable writes) but refuses transactions.
 */
export type Deployment = 'embedded' | 'standalone' | 'replicaSet' | 'sharded';

export async function deploymentOf(target: Target): Promise<Deployment> {
  if (target.embedded) return 'embedded';
  const hello = await target.client.db('admin').command({ hello: 1 });
  if (hello.msg === 'isdbgrid') return 'sharded';
  return typeof hello.setName === 'string' ? 'replicaSet' : 'standalone';
}

/**
 * Connection string for a database of the target, whichever server it is. String surgery
 * rather than `new URL`, which rejects multi-host (replica set) connection strings.
 */
export function uriWithDb(uri: string, dbName: string): string {
  const [base, query] = uri.split('?', 2);
  const schemeEnd = base.indexOf('://') + 3;
  const pathStart = base.indexOf('/', schemeEnd);
  const hosts = pathStart === -1 ? base : base.slice(0, pathStart);
  return `${hosts}/${dbName}${query === undefined ? '' : `?${query}`}`;
}
