import { applyDecorators, Controller, Get } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Connection } from 'mongoose';
import { setTimeout as sleep } from 'node:timers/promises';
import { Public } from '../common/decorators/public.decorator.js';
import { HealthResponseDto, HealthUnavailableResponseDto } from './dto/health-response.dto.js';

const PING_TIMEOUT_MS = 1500;

/**
 * `@HealthCheck()` documents its responses only when it can `require('@nestjs/swagger')`, which
 * works under Node (the production build) but not in Jest's ESM loader, so the served document
 * would differ between the two. Its documentation is off, and these say what the routes answer.
 */
const HEALTH_CHECK = applyDecorators(
  HealthCheck({ noCache: true, swaggerDocumentation: false }),
  ApiOkResponse({ type: HealthResponseDto, description: 'Every check passed' }),
  ApiServiceUnavailableResponse({
    type: HealthUnavailableResponseDto,
    description: 'A check failed, or the instance is shutting down',
  }),
);

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
  @HEALTH_CHECK
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: MongoDB answers a ping (503 otherwise)' })
  @HEALTH_CHECK
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
