import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { EmbeddedMongo } from '../../libs/embedded-mongo/src/index.js';
import type { DatabaseConfig } from '../config/configuration.js';

/**
 * Where the application's MongoDB lives: the `MONGODB_URI` it was given, or an embedded store
 * started in-process on `DATA_DIR/db`. Either way the rest of the app only sees a URI,
 * so no repository can branch on which store it talks to.
 */
export class MongoTarget {
  private constructor(
    readonly uri: string,
    private readonly embedded?: EmbeddedMongo,
  ) {}

  static async resolve(config: DatabaseConfig): Promise<MongoTarget> {
    if (config.uri) return new MongoTarget(config.uri);
    const store = await EmbeddedMongo.start({ dataDir: join(config.dataDir, 'db') });
    new Logger('Database').warn(
      `MONGODB_URI is not set: using the embedded store in ${join(config.dataDir, 'db')} (for development and tests only)`,
    );
    return new MongoTarget(store.uriFor('siteline'), store);
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  async stop(): Promise<void> {
    await this.embedded?.stop();
  }
}
