import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { isDatabaseUnreachable } from '../../database/database-errors.js';
import { isRequestDeadlineExceeded, REQUEST_DEADLINE_RETRY_AFTER_SECONDS } from '../http/request-deadline.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * Every error leaves as JSON `{ statusCode, error, message }` (docs/api.md). Expected errors keep
 * their message; anything unexpected becomes a bare 500 whose detail is logged, never returned.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { status, body, headers } = this.toResponse(exception, request);
    for (const [name, value] of Object.entries(headers)) void reply.header(name, value);
    void reply.status(status).send(body);
  }

  protected toResponse(exception: unknown, request: FastifyRequest) {
    const headers: Record<string, string> = {};
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const body: ErrorBody = {
        statusCode: status,
        error: STATUS_CODES[status] ?? 'Error',
        message: exception.message,
      };
      if (typeof response === 'object' && response !== null) {
        const fields = response as Record<string, unknown>;
        if (Array.isArray(fields.message)) body.message = fields.message.join('; ');
        else if (typeof fields.message === 'string') body.message = fields.message;
        if (typeof fields.error === 'string' && fields.error !== body.message) body.error = fields.error;
        if (fields.details !== undefined) body.details = fields.details;
        if (fields.headers && typeof fields.headers === 'object') Object.assign(headers, fields.headers);
      } else if (typeof response === 'string') {
        body.message = response;
      }
      return { status, body, headers };
    }
    if (isRequestDeadlineExceeded(exception)) {
      const status = HttpStatus.SERVICE_UNAVAILABLE;
      return {
        status,
        body: {
          statusCode: status,
          error: 'Service Unavailable',
          message:
            'The request is taking too long to answer (a backlog after a bulk load, or a busy database); retry shortly',
        },
        headers: { ...headers, 'Retry-After': String(REQUEST_DEADLINE_RETRY_AFTER_SECONDS) },
      };
    }
    const clientError = this.fastifyClientError(exception);
    if (clientError) return { ...clientError, headers };
    if (isDatabaseUnreachable(exception)) {
      // A lost database is an outage, not a bug: tell clients to come back instead of a bare 500.
      this.logger.warn(
        `Database unavailable on ${request.method} ${request.routeOptions?.url ?? 'unknown'}: ${exception.message}`,
      );
      const status = HttpStatus.SERVICE_UNAVAILABLE;
      return {
        status,
        body: { statusCode: status, error: 'Service Unavailable', message: 'Database unavailable, retry shortly' },
        headers: { ...headers, 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
      };
    }
    this.logger.error(
      { err: exception, method: request.method, url: request.routeOptions?.url ?? 'unknown' },
      `Unhandled error: ${exception instanceof Error ? `${exception.name}: ${exception.message}` : String(exception)}`,
    );
    const status = HttpStatus.INTERNAL_SERVER_ERROR;
    return {
      status,
      body: { statusCode: status, error: 'Internal Server Error', message: 'Internal server error' },
      headers,
    };
  }

  /** Fastify's own 4xx errors (body too large, malformed JSON, bad content type) keep their status. */
  private fastifyClientError(exception: unknown): { status: number; body: ErrorBody } | undefined {
    if (typeof exception !== 'object' || exception === null) return undefined;
    const { statusCode, code, message } = exception as { statusCode?: unknown; code?: unknown; message?: unknown };
    if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500 || typeof code !== 'string')
      return undefined;
    if (!code.startsWith('FST_')) return undefined;
    return {
      status: statusCode,
      body: { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message: String(message) },
    };
  }
}
