import { Module, RequestMethod } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { appConfig, type AppConfig } from '../../config/configuration.js';
import { INGEST_ROUTES } from '../../ingestion/ingest-routes.js';
import { logDestination, wantsPrettyLogs } from './log-destination.js';

/**
 * Structured logs (JSON; pretty-printed in development on a terminal, see log-destination.ts)
 * with a request id on every line. What is logged of a request is chosen field by field: method,
 * path without its query string (the `/api/v1/traffic` form puts
 * `ip_addr` there), status and timing. Headers, bodies and client addresses are never logged,
 * so no raw IP, key, password or token can reach the logs through the request logger.
 */
/**
 * Accepted hits are logged at `debug`, not `info`: at ingest rates one line per hit is noise a
 * log pipeline pays for (Plausible and Umami do not log accepted events either) and it cost
 * ~7% of the main thread in the ingest profile. Refused hits (4xx/5xx) are still logged.
 */
function isIngestRequest(request: IncomingMessage & { originalUrl?: string }): boolean {
  return request.method === 'POST' && INGEST_ROUTES.has((request.originalUrl ?? request.url ?? '').split('?')[0]);
}

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (config: AppConfig) => ({
        // nestjs-pino's default route pattern matches nothing under Nest 12 on Fastify; this one matches every path.
        forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
        pinoHttp: [
          {
            level: config.logLevel,
            // The id Fastify assigned (see app.factory.ts), so log lines and the x-request-id header agree.
            genReqId: (request: IncomingMessage & { id?: string }) => request.id ?? 'unknown',
            serializers: {
              req: (request: { id?: unknown; method?: string; url?: string }) => ({
                id: request.id,
                method: request.method,
                path: (request.url ?? '').split('?')[0],
              }),
              res: (response: { statusCode?: number }) => ({ statusCode: response.statusCode }),
            },
            redact: {
              paths: ['req.headers', 'req.remoteAddress', 'req.remotePort', '*.password', '*.token'],
              remove: true,
            },
            customLogLevel: (
              request: IncomingMessage & { originalUrl?: string },
              response: ServerResponse,
              error?: Error,
            ) => {
              if (error || response.statusCode >= 500) return 'error';
              if (response.statusCode >= 400) return 'warn';
              return isIngestRequest(request) ? 'debug' : 'info';
            },
            // Probes would drown the log; the middleware sees a rewritten `url`, so match the original one.
            autoLogging: {
              ignore: (request: IncomingMessage & { originalUrl?: string }) =>
                (request.originalUrl ?? request.url ?? '').startsWith('/health/'),
            },
          },
          logDestination({ pretty: wantsPrettyLogs(config.nodeEnv) }),
        ],
      }),
    }),
  ],
})
export class LoggingModule {}
