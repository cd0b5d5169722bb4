import { ArgumentsHost, Catch } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpExceptionFilter } from '../../common/filters/http-exception.filter.js';

/**
 * Errors of the Plausible-compatible API in Plausible's shape, `{ "error": "…" }`, which its
 * clients read; status, headers (Retry-After…) and message are the ones every route gives.
 */
@Catch()
export class V2ErrorFilter extends HttpExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const { status, body, headers } = this.toResponse(exception, http.getRequest<FastifyRequest>());
    for (const [name, value] of Object.entries(headers)) void reply.header(name, value);
    void reply.status(status).send({ error: body.message });
  }
}
