import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { InjectConnection, MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { databaseConfig, type DatabaseConfig } from '../config/configuration.js';
import { DatabaseHeartbeatWatchdog } from './heartbeat-watchdog.js';
import { MongoTarget } from './mongo-target.js';

const mongoTargetProvider = {
  provide: MongoTarget,
  inject: [databaseConfig.KEY],
  useFactory: (config: DatabaseConfig) => MongoTarget.resolve(config),
};

/** Closes the connection before the embedded store it talks to, so shutdown never logs a broken socket. */
@Injectable()
class DatabaseShutdown implements OnApplicationShutdown {
  constructor(
    @InjectConnection() private readonly connection: Connection,
    @Inject(MongoTarget) private readonly target: MongoTarget,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
    await this.target.stop();
    new Logger('Database').log('MongoDB connection closed');
  }
}

@Module({ providers: [mongoTargetProvider], exports: [mongoTargetProvider] })
class MongoTargetModule {}

@Global()
@Module({
  imports: [
    MongoTargetModule,
    MongooseModule.forRootAsync({
      imports: [MongoTargetModule],
      inject: [MongoTarget],
      useFactory: (target: MongoTarget) => ({
        uri: target.uri,
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
})
export class DatabaseModule {}
