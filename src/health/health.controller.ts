import { Controller, Get } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Connection } from 'mongoose';
import { setTimeout as sleep } from 'node:timers/promises';
import { Public } from '../common/decorators/public.decorator.js';

const PING_TIMEOUT_MS = 1500;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @InjectConnection() private readonly connection: Connection,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers HTTP' })
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: MongoDB answers a ping (503 otherwise)' })
  @HealthCheck()
  ready() {
    return this.health.check([() => this.pingMongo()]);
  }

  /**
   * A real ping rather than mongoose's `readyState`: that flag turns "disconnected" when two
   * heartbeats are late (a busy store) and can lag behind a recovered server, so readiness would
   * report the database down while it answers, or stay down after it came back.
   */
  private async pingMongo() {
    const mongodb = this.indicators.check('mongodb');
    const db = this.connection.db;
    if (!db) return mongodb.down({ message: 'Not connected to database' });
    const timedOut = Symbol('timeout');
    try {
      const outcome = await Promise.race([db.command({ ping: 1 }), sleep(PING_TIMEOUT_MS, timedOut, { ref: false })]);
      return outcome === timedOut ? mongodb.down({ message: `No answer within ${PING_TIMEOUT_MS} ms` }) : mongodb.up();
    } catch (error) {
      return mongodb.down({ message: error instanceof Error ? error.name : 'ping failed' });
    }
  }
}
