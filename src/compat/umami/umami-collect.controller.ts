import { Body, Controller, HttpCode, HttpException, HttpStatus, Options, Post, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiExcludeEndpoint,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../../common/decorators/public.decorator.js';
import { MAX_HITS_PER_REQUEST } from '../../ingestion/dto/hit.dto.js';
import { IngestService, type IngestRequest } from '../../ingestion/ingest.service.js';
import { UmamiBatchResultDto, UmamiErrorDto, UmamiSendDto, UmamiSendResultDto } from './umami-send.dto.js';
import { translateUmamiSend, UMAMI_IGNORED, UMAMI_IGNORED_FIELDS, type UmamiHit } from './umami-payload.js';

/**
 * Umami's error body, `{ error: { message, code, status } }`, with Siteline's `statusCode` and
 * `message` beside it: Umami's clients read `error`, tools written for Siteline's other routes
 * read the top-level fields.
 */
interface UmamiError {
  statusCode: number;
  message: string;
  error: { message: string; code: string; status: number };
}

const CODES: Record<number, string> = {
  400: 'bad-request',
  403: 'forbidden',
  429: 'too-many-requests',
};

function umamiError(status: number, message: string): UmamiError {
  return { statusCode: status, message, error: { message, code: CODES[status] ?? 'error', status } };
}

/** One answer per payload: 200 with what was recorded, or an Umami error with its status. */
type SendAnswer =
  { status: 200; body: { accepted: number; duplicates: number } } | { status: number; body: UmamiError };

/**
 * Umami's collection API, for Umami's script and `@umami/node` pointed at Siteline: `website` is
 * the Siteline site id. Key-less, like Umami: a browser's Origin must be allowed for the site
 * (a server-side sender, without Origin, is accepted) and the per-IP limit applies. Each page view
 * or event goes through the `/api/v1/hits` pipeline and is written before the answer. Answers keep
 * Umami's shapes: 200 with a JSON object (Umami's clients read only its optional `cache`, which
 * Siteline never sets, so they send no `x-umami-cache` back), errors as
 * `{ error: { message, code, status } }`, an unknown website as Umami's `400 Website not found.`
 */
@ApiTags('compat')
@Controller('api')
export class UmamiCollectController {
  constructor(private readonly ingest: IngestService) {}

  @Public()
  @Post('send')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Record a page view or event (Umami /api/send)',
    description:
      'Umami-compatible: `{ type: "event", payload: { website, hostname, url, referrer, name, data, id } }`, `website` ' +
      `being the Siteline site id. \`identify\` is acknowledged and not stored; ${UMAMI_IGNORED_FIELDS} are accepted ` +
      'and not stored. See docs/compat.md.',
  })
  @ApiBody({ type: UmamiSendDto })
  @ApiOkResponse({ type: UmamiSendResultDto, description: 'Written (or, for `identify`, acknowledged).' })
  @ApiBadRequestResponse({ type: UmamiErrorDto, description: 'Invalid payload, or `Website not found.`' })
  @ApiForbiddenResponse({ type: UmamiErrorDto, description: 'Origin not allowed for the site.' })
  @ApiTooManyRequestsResponse({ type: UmamiErrorDto, description: 'Per-IP rate limit; see Retry-After.' })
  @ApiServiceUnavailableResponse({ description: 'Queue full or database unavailable; nothing was stored.' })
  async send(@Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    allowOrigin(request, reply);
    const translated = translateUmamiSend(body);
    if (typeof translated === 'string') return void reply.status(400).send(umamiError(400, translated));
    const [answer] =
      translated === UMAMI_IGNORED
        ? [{ status: 200, body: { accepted: 0, duplicates: 0 } } as SendAnswer]
        : await this.record([translated], toIngestRequest(request), reply);
    void reply.status(answer.status).send(answer.body);
  }

  @Public()
  @Post('batch')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Record several page views and events (Umami /api/batch)',
    description: `An array of 1–${MAX_HITS_PER_REQUEST} \`/api/send\` bodies. Answers Umami's batch summary; each failed item is in \`details\` with its index and error.`,
  })
  @ApiBody({ type: [UmamiSendDto] })
  @ApiOkResponse({ type: UmamiBatchResultDto })
  @ApiBadRequestResponse({ type: UmamiErrorDto, description: 'Not an array of 1–500 items.' })
  @ApiServiceUnavailableResponse({ description: 'Queue full or database unavailable; nothing was stored.' })
  async batch(@Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    allowOrigin(request, reply);
    if (!Array.isArray(body) || body.length < 1 || body.length > MAX_HITS_PER_REQUEST) {
      return void reply
        .status(400)
        .send(umamiError(400, `body must be an array of 1 to ${MAX_HITS_PER_REQUEST} { type, payload } items`));
    }
    const answers: SendAnswer[] = new Array(body.length);
    const toRecord: UmamiHit[] = [];
    const positions: number[] = [];
    body.forEach((item, index) => {
      const translated = translateUmamiSend(item);
      if (typeof translated === 'string') answers[index] = { status: 400, body: umamiError(400, translated) };
      else if (translated === UMAMI_IGNORED) answers[index] = { status: 200, body: { accepted: 0, duplicates: 0 } };
      else {
        toRecord.push(translated);
        positions.push(index);
      }
    });
    const recorded = await this.record(toRecord, toIngestRequest(request), reply);
    recorded.forEach((answer, position) => (answers[positions[position]] = answer));
    const details = answers
      .map((answer, index) => ({ index, answer }))
      .filter(({ answer }) => answer.status !== 200)
      .map(({ index, answer }) => ({ index, response: answer.body }));
    void reply.status(200).send({
      size: body.length,
      processed: body.length - details.length,
      errors: details.length,
      details,
    });
  }

  /** Umami's tracker sends JSON and, once it holds one, an `x-umami-cache` header: both need a preflight. */
  @Public()
  @Options(['send', 'batch'])
  @HttpCode(204)
  @ApiExcludeEndpoint()
  preflight(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    allowOrigin(request, reply);
    void reply.header('Access-Control-Allow-Methods', 'POST');
    void reply.header('Access-Control-Allow-Headers', 'Content-Type, x-umami-cache');
    void reply.header('Access-Control-Max-Age', '86400');
    void reply.status(204).send();
  }

  /**
   * Writes the hits site by site (one ingest call, so one durable write, per website named) and
   * answers each in the order given. A refusal of a whole site (unknown, origin, rate limit) is
   * that site's items' answer; a 503 fails the request, as nothing more can be promised.
   */
  private async record(hits: UmamiHit[], request: IngestRequest, reply: FastifyReply): Promise<SendAnswer[]> {
    const answers: SendAnswer[] = new Array(hits.length);
    const bySite = new Map<string, number[]>();
    hits.forEach((hit, index) => bySite.set(hit.website, [...(bySite.get(hit.website) ?? []), index]));
    for (const [website, indexes] of bySite) {
      try {
        const outcome = await this.ingest.ingestKeyless(
          website,
          indexes.map((index) => hits[index].hit),
          request,
        );
        const rejected = new Map(outcome.body.rejected.map((item) => [item.index, item.error]));
        // A site's items share its totals; `/api/send` has one item, and a batch lists only failures.
        const { accepted, duplicates } = outcome.body;
        indexes.forEach((index, position) => {
          const error = rejected.get(position);
          answers[index] =
            error === undefined
              ? { status: 200, body: { accepted, duplicates } }
              : { status: 400, body: umamiError(400, error) };
        });
      } catch (error) {
        if (!(error instanceof HttpException) || error.getStatus() === HttpStatus.SERVICE_UNAVAILABLE) throw error;
        const answer = refusal(error, reply);
        for (const index of indexes) answers[index] = answer;
      }
    }
    return answers;
  }
}

function refusal(error: HttpException, reply: FastifyReply): SendAnswer {
  const status = error.getStatus();
  if (status === HttpStatus.UNAUTHORIZED) return { status: 400, body: umamiError(400, 'Website not found.') };
  const response = error.getResponse() as { headers?: Record<string, string> } | string;
  const retryAfter = typeof response === 'object' ? response.headers?.['Retry-After'] : undefined;
  if (retryAfter) void reply.header('Retry-After', retryAfter);
  return { status, body: umamiError(status, error.message) };
}

function toIngestRequest(request: FastifyRequest): IngestRequest {
  return { headers: request.headers, ip: request.ip };
}

/** Echoes the caller's origin (whether it may record for a site is decided per site). */
function allowOrigin(request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin;
  if (origin) void reply.header('Access-Control-Allow-Origin', origin).header('Vary', 'Origin');
}
