import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { EmbeddedMongo, runningStorePort } from '../../libs/embedded-mongo/src/index.js';
import type { DatabaseConfig } from '../config/configuration.js';

/**
 * Where the application's MongoDB lives: the `MONGODB_URI` it was given, or an embedded store
 * started in-process on `DATA_DIR/db`. Either way the rest of the app only sees a URI,
 * so no repository can branch on which store it talks to.
 */
const EMBEDDED_DATABASE = 'siteline';
const embeddedStoreDir = (dataDir: string): string => join(dataDir, 'db');

export class MongoTarget {
  private constructor(
    readonly uri: string,
    private readonly embedded?: EmbeddedMongo,
  ) {}

  static async resolve(config: DatabaseConfig): Promise<MongoTarget> {
    if (config.uri) return new MongoTarget(config.uri);
    const store = await EmbeddedMongo.start({ dataDir: embeddedStoreDir(config.dataDir) });
    new Logger('Database').warn(
      `MONGODB_URI is not set: using the embedded store in ${embeddedStoreDir(config.dataDir)} (for development and tests only)`,
    );
    return new MongoTarget(store.uriFor(EMBEDDED_DATABASE), store);
  }

  /**
   * The URI of the embedded store a running Siteline serves on `dataDir`, or undefined when no
   * live process holds it. The CLI connects there instead of opening the store, which a running
   * server keeps locked. The store has always listened on 127.0.0.1 only, without authentication
   * (a development store); the lock file only saves scanning for its port. On a machine shared with
   * untrusted users, run MongoDB with authentication instead (see docs/first-run.md).
   */
  static runningEmbeddedStoreUri(dataDir: string): string | undefined {
    const port = runningStorePort(embeddedStoreDir(dataDir));
    return port === undefined ? undefined : `mongodb://127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  async stop(): Promise<void> {
    await this.embedded?.stop();
  }
}
