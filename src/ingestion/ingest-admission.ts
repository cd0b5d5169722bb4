import type { FastifyInstance } from 'fastify';
import { INGEST_ROUTES } from './ingest-routes.js';

/**
 * Ingest requests being read, validated, enriched or written at once, beyond which new ones are
 * refused before their body is read. The write queue (`MAX_QUEUED_HITS`) bounds the hits waiting
 * for MongoDB, but not the bodies still being parsed: under a flood of 256 connections × 500-hit
 * batches those were hundreds of MB. 64 is twice the bench's single-hit concurrency, so normal
 * load never meets it; 64 bodies of at most 1 MB bound the parsing memory.
 */
export const MAX_INGEST_REQUESTS_IN_FLIGHT = 64;

/**
 * Answers `503 Retry-After: 1` at `onRequest`, before the body is read or buffered, when
 * `MAX_INGEST_REQUESTS_IN_FLIGHT` ingest requests are already in progress. A request leaves the
 * count when its response is finished or its connection closes.
 */
export function admitIngestRequests(fastify: FastifyInstance, limit = MAX_INGEST_REQUESTS_IN_FLIGHT): void {
  let inFlight = 0;
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.method !== 'POST' || !INGEST_ROUTES.has(request.url.split('?')[0])) return done();
    if (inFlight >= limit) {
      void reply.code(503).header('Retry-After', '1').send({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'Too many ingest requests in progress, retry shortly',
      });
      return;
    }
    inFlight++;
    reply.raw.once('close', () => inFlight--);
    done();
  });
}
