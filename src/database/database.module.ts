import { type DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { InjectConnection, MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import { databaseConfig, type DatabaseConfig } from '../config/configuration.js';
import { DatabaseHeartbeatWatchdog } from './heartbeat-watchdog.js';
import { MongoTarget } from './mongo-target.js';

const mongoTargetProvider = {
  provide: MongoTarget,
  inject: [databaseConfig.KEY],
  useFactory: (config: DatabaseConfig) => MongoTarget.resolve(config),
};

/**
 * Closes the connection before the embedded store it talks to, so shutdown never logs a broken
 * socket. Both are bounded by the shutdown's database phase: closing ends sessions and cursors
 * on the server, which waits behind a long command, and the embedded store stops only once its
 * engine is free. Giving up loses nothing acknowledged: every acknowledged write is already on
 * disk (the embedded store syncs its journal before it answers a write).
 */
@Injectable()
class DatabaseShutdown implements OnApplicationShutdown {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    @Inject(MongoTarget) private readonly target: MongoTarget,
    private readonly shutdown: ShutdownDeadline,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.shutdown.settle('MongoDB connection close', 'database', this.connection.close(), 'exiting anyway');
    if (this.target.isEmbedded)
      await this.shutdown.settle('Embedded store stop', 'database', this.target.stop(), 'exiting anyway');
  }
}

@Module({ providers: [mongoTargetProvider], exports: [mongoTargetProvider] })
class MongoTargetModule {}

export interface DatabaseModuleOptions {
  /**
   * Further connection attempts (3 s apart) when the first fails. The server waits for a
   * database that starts after it (`docker compose up`); a CLI run says at once that there is
   * none, instead of retrying for a minute before its one-line error.
   */
  connectRetries: number;
}

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        MongoTargetModule,
        MongooseModule.forRootAsync({
          imports: [MongoTargetModule],
          inject: [MongoTarget],
          useFactory: (target: MongoTarget) => ({
            uri: target.uri,
            retryAttempts: options.connectRetries,
            retryDelay: 3000,
            // A missing database must fail the request, not queue it forever in memory.
            bufferCommands: false,
            autoIndex: true,
            autoCreate: true,
            serverSelectionTimeoutMS: 5000,
            // The monitor pings every 2 s and gives up on an unanswered ping after 5 s: a lost or
            // partitioned database is noticed within seconds, which fails the requests waiting on it
            // (503, never a hang: the driver interrupts in-use connections when a check times out),
            // turns readiness red, and brings it back as soon as the database answers again.
            heartbeatFrequencyMS: 2000,
            connectTimeoutMS: 5000,
          }),
        }),
      ],
      providers: [DatabaseShutdown, DatabaseHeartbeatWatchdog],
      exports: [MongoTargetModule],
    };
  }
}
