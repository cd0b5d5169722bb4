import { ArgumentsHost, Catch } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpExceptionFilter } from '../../common/filters/http-exception.filter.js';

/**
 * Errors of the Plausible-compatible API with the message under `error`, where Plausible's
 * clients read it (`{ "error": "…" }`); `statusCode` and `message` stay as on every other route,
 * and so do the status and headers (Retry-After…).
 */
@Catch()
export class V2ErrorFilter extends HttpExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const { status, body, headers } = this.toResponse(exception, http.getRequest<FastifyRequest>());
    for (const [name, value] of Object.entries(headers)) void reply.header(name, value);
    void reply.status(status).send({ statusCode: status, error: body.message, message: body.message });
  }
}
