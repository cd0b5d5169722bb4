import type { DynamicModule, Type } from '@nestjs/common';
import helmet from '@fastify/helmet';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppModule } from './app.module.js';
import { HttpExceptionFilter } from './common/filters/http-exception.filter.js';
import { requestDeadlineMs } from './common/http/request-deadline.js';
import { createValidationPipe } from './common/validation.js';
import { loadEnvironment } from './config/environment.js';
import { admitIngestRequests } from './ingestion/ingest-admission.js';
import { mountOpenApi } from './openapi/openapi.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** TRUST_PROXY → Fastify's trustProxy: a boolean, a hop count, or trusted addresses/CIDRs. */
function trustProxySetting(
  value: string | undefined,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value.split(',').map((part) => part.trim());
}

const REQUEST_ID = /^[\w.-]{1,64}$/;

/** A client's `x-request-id` is kept when it is a plain token; otherwise a UUID is generated. */
function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function createFastifyAdapter(): FastifyAdapter {
  const env = loadEnvironment();
  const adapter = new FastifyAdapter({
    genReqId: requestId,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: trustProxySetting(env.TRUST_PROXY),
    // Slow or stalled clients are cut off instead of holding a socket forever: idle sockets after
    // connectionTimeout, clients trickling a request (slowloris) after requestTimeout. Node checks
    // requestTimeout only every connectionsCheckingInterval (30 s by default), hence the shorter one.
    connectionTimeout: env.HTTP_TIMEOUT_MS,
    requestTimeout: env.HTTP_TIMEOUT_MS,
    keepAliveTimeout: Math.min(10_000, env.HTTP_TIMEOUT_MS),
    // Answered (503 + Retry-After) before the socket timeout above could cut it: see request-deadline.ts.
    handlerTimeout: requestDeadlineMs(env.HTTP_TIMEOUT_MS),
    http: { connectionsCheckingInterval: Math.min(5_000, Math.ceil(env.HTTP_TIMEOUT_MS / 4)) },
  });
  // Node's requestTimeout stops counting once the headers are in, so a client trickling its body
  // would hold the socket for as long as it keeps sending: the whole body must arrive in time too.
  adapter.getInstance().addHook('onRequest', (request, _reply, done) => {
    const raw = request.raw;
    if (!raw.complete) {
      const timer = setTimeout(() => {
        if (!raw.complete) raw.socket.destroy();
      }, env.HTTP_TIMEOUT_MS);
      timer.unref();
      const clear = () => clearTimeout(timer);
      raw.once('end', clear).once('close', clear);
    }
    done();
  });
  admitIngestRequests(adapter.getInstance());
  // Registered before Nest's middleware, so the request logger sees the same id (`req.id`).
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    (request.raw as IncomingMessage & { id?: string }).id = request.id;
    void reply.header('x-request-id', request.id);
    done();
  });
  return adapter;
}

/**
 * Security headers on every response (API, errors, Swagger UI). The policy below is what Swagger UI
 * at /docs needs (its own scripts, inline styles); the dashboard replaces it with its stricter one.
 * Cross-origin embedding of resources stays allowed because client sites load /tracker.js.
 */
const SECURITY_HEADERS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  crossOriginResourcePolicy: { policy: 'cross-origin' as const },
};

/**
 * Everything production applies to the application besides the root module: logger, error
 * filter, validation, OpenAPI. (`main.ts` adds the signal handling.) The e2e tests call this on their testing module,
 * so they run the very app `main.ts` runs.
 */
export async function configureApp(app: NestFastifyApplication): Promise<NestFastifyApplication> {
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new HttpExceptionFilter());
  app.useGlobalPipes(createValidationPipe());
  await app.register(helmet, SECURITY_HEADERS);
  mountOpenApi(app);
  await app.init();
  return app;
}

export async function createApp(
  rootModule: Type<unknown> | DynamicModule = AppModule,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(rootModule, createFastifyAdapter(), {
    bufferLogs: true,
    abortOnError: false,
  });
  return configureApp(app);
}
