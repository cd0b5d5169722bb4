import { Body, Controller, HttpCode, HttpException, HttpStatus, Options, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiExcludeEndpoint,
  ApiHeader,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/decorators/public.decorator.js';
import { rejectionReason } from '../../ingestion/hit-validation.js';
import { IngestService, type IngestOutcome } from '../../ingestion/ingest.service.js';
import { PlausibleEventDto } from './plausible-event.dto.js';
import { PLAUSIBLE_FIELD_OF, translatePlausibleEvent, type PlausibleErrors } from './plausible-event.js';

/** Refusals Plausible answers as a dropped event (202 + `x-plausible-dropped`), never as an error. */
const DROPPED_STATUSES: ReadonlySet<number> = new Set([
  HttpStatus.UNAUTHORIZED, // no such site: Plausible's "not_found" gate
  HttpStatus.FORBIDDEN, // Origin not allowed: Plausible's hostname allowlist shield
  HttpStatus.TOO_MANY_REQUESTS, // per-IP limit: Plausible's "throttle" gate
]);

/**
 * Plausible's Events API, for Plausible's script and npm trackers pointed at Siteline. Key-less,
 * like Plausible: the site is found by domain, a browser's Origin must be allowed for it, and the
 * per-IP limit applies. Each event goes through the `/api/v1/hits` pipeline (validation,
 * enrichment, bot classification, durable write) and Plausible's answers are kept: `202 ok`; a
 * request whose event was not recorded for some domain (unknown site, origin not allowed, rate
 * limited, Do Not Track honoured) is still `202 ok` with `x-plausible-dropped: <count>`; an
 * invalid event is `400 { errors: { field: [message] } }`. Siteline adds one answer Plausible
 * does not have: `503` when the event could not be written (nothing stored; retry).
 */
@ApiTags('compat')
@Controller('api')
export class PlausibleEventsController {
  constructor(private readonly ingest: IngestService) {}

  @Public()
  @Post('event')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Record a page view or event (Plausible Events API)',
    description:
      'Plausible-compatible: send it what Plausible’s trackers send to `/api/event` (JSON or `text/plain` body, long ' +
      'or short keys). `User-Agent` is required. See docs/compat.md.',
  })
  @ApiConsumes('application/json', 'text/plain')
  @ApiBody({ type: PlausibleEventDto })
  @ApiHeader({ name: 'User-Agent', required: true, description: 'The visitor’s browser (classified, never stored)' })
  @ApiAcceptedResponse({
    description:
      'Recorded for every domain: body `ok`. With header `x-plausible-dropped: <n>`, not recorded for n domains ' +
      '(unknown site, origin not allowed, rate limited, or Do Not Track honoured for the site).',
    headers: { 'x-plausible-dropped': { schema: { type: 'integer' }, required: false } },
    content: { 'text/plain': { schema: { type: 'string', example: 'ok' } } },
  })
  @ApiBadRequestResponse({
    description:
      'Invalid event: Plausible’s `{ "errors": { "<field>": ["<message>"] } }`, beside Siteline’s usual ' +
      '`statusCode`, `error` and `message` (the same errors as one line).',
    schema: {
      type: 'object',
      properties: {
        statusCode: { type: 'integer', example: 400 },
        error: { type: 'string', example: 'Bad Request' },
        message: { type: 'string', example: 'url is required' },
        errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      },
      example: { statusCode: 400, error: 'Bad Request', message: 'url is required', errors: { url: ['is required'] } },
    },
  })
  @ApiServiceUnavailableResponse({
    description: 'Queue full or database unavailable; nothing was stored. See Retry-After.',
  })
  async event(@Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    allowAnyOrigin(reply);
    const userAgent = request.headers['user-agent'];
    if (!userAgent) return void reply.status(400).send(badRequest({ user_agent: ['is required'] }));
    const event = translatePlausibleEvent(body);
    if ('errors' in event) return void reply.status(400).send(badRequest(event.errors));
    let dropped = 0;
    for (const domain of event.domains) {
      let outcome: IngestOutcome;
      try {
        outcome = await this.ingest.ingestKeyless(domain, [{ ...event.hit, siteId: domain }], {
          headers: request.headers,
          ip: request.ip,
        });
      } catch (error) {
        if (error instanceof HttpException && DROPPED_STATUSES.has(error.getStatus())) {
          dropped++;
          continue;
        }
        throw error;
      }
      if (outcome.status === HttpStatus.BAD_REQUEST) {
        if (dropped > 0) void reply.header('x-plausible-dropped', String(dropped));
        return void reply.status(400).send(badRequest(plausibleErrors(outcome.body.rejected)));
      }
      if (outcome.body.accepted + outcome.body.duplicates === 0) dropped++;
    }
    if (dropped > 0) void reply.header('x-plausible-dropped', String(dropped));
    void reply.status(202).type('text/plain; charset=utf-8').send('ok');
  }

  /** CORS preflight (a tracker sending `application/json`); `text/plain` sends need none. */
  @Public()
  @Options('event')
  @HttpCode(204)
  @ApiExcludeEndpoint()
  preflight(@Res() reply: FastifyReply): void {
    allowAnyOrigin(reply);
    void reply.header('Access-Control-Allow-Methods', 'POST');
    void reply.header('Access-Control-Allow-Headers', 'Content-Type');
    void reply.header('Access-Control-Max-Age', '86400');
    void reply.status(204).send();
  }
}

/**
 * As Plausible: any origin may call the Events API (which origins may record for a site is
 * decided per site, above). No credentials are involved, so `*` is enough; the dropped-count
 * header is exposed so a tracker's callback can read it.
 */
function allowAnyOrigin(reply: FastifyReply): void {
  void reply.header('Access-Control-Allow-Origin', '*');
  void reply.header('Access-Control-Expose-Headers', 'x-plausible-dropped');
}

/**
 * A 400 answer that both kinds of client can read: Plausible's trackers look only at the status,
 * Plausible's own `errors` map is kept for tools that parse it, and `statusCode`/`error`/`message`
 * are Siteline's error shape on every other route.
 */
function badRequest(errors: PlausibleErrors): Record<string, unknown> {
  const message = Object.entries(errors)
    .map(([field, messages]) => messages.map((text) => (text.startsWith(field) ? text : `${field} ${text}`)).join('; '))
    .join('; ');
  return { statusCode: 400, error: 'Bad Request', message, errors };
}

/** Native "field: message" rejections → Plausible's `{ field: [message] }` with Plausible's key names. */
function plausibleErrors(rejected: Array<{ error: string }>): PlausibleErrors {
  const errors: PlausibleErrors = {};
  for (const { error } of rejected) {
    const field = rejectionReason(error);
    const key = PLAUSIBLE_FIELD_OF[field] ?? field;
    const message = error.startsWith(`${field}: `) ? error.slice(field.length + 2) : error;
    errors[key] = [...(errors[key] ?? []), message];
  }
  return errors;
}
