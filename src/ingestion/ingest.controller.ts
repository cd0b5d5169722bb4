import { Body, Controller, HttpCode, Options, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiExcludeEndpoint,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiQuery,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../common/decorators/public.decorator.js';
import { SITE_KEY_AUTH, SITE_KEY_HEADER_AUTH } from '../openapi/openapi.js';
import { HitBatchDto, HitDto } from './dto/hit.dto.js';
import { IngestRejectedDto, IngestResultDto } from './dto/ingest-result.dto.js';
import { TrafficBatchDto, TrafficDto } from './dto/traffic.dto.js';
import { IngestService, type IngestOutcome } from './ingest.service.js';

/**
 * The success answer of both ingest routes. Declared on each method, not the controller: a method
 * with no response decorator of its own gets @nestjs/swagger's default one (201 for a POST, or a
 * bare `@HttpCode` status) in the OpenAPI document, next to or over the controller's.
 */
const WRITTEN = { type: IngestResultDto, description: 'Written; per-hit outcome.' };

/**
 * Ingest endpoints. Public for the global JWT guard: they authenticate on their own, with a site
 * key (server-side senders) or siteId + Origin (browsers). Bodies arrive unvalidated (`unknown`)
 * and are validated item by item with class-validator in IngestService, so a batch keeps its
 * valid hits and the global ValidationPipe stays off this hot path.
 */
@ApiTags('ingest')
@ApiExtraModels(HitDto, HitBatchDto, TrafficDto, TrafficBatchDto)
@ApiSecurity(SITE_KEY_AUTH)
@ApiSecurity(SITE_KEY_HEADER_AUTH)
@ApiBadRequestResponse({
  type: IngestRejectedDto,
  description: 'No valid hit (or an invalid single hit), with per-hit detail.',
})
@ApiUnauthorizedResponse({ description: 'Missing, unknown or revoked site key, or unknown siteId.' })
@ApiForbiddenResponse({ description: 'Origin not allowed for the site, or the key lacks the ingest scope.' })
@ApiPayloadTooLargeResponse({ description: 'Body over 1 MB.' })
@ApiTooManyRequestsResponse({ description: 'Rate limit exceeded; see Retry-After.' })
@ApiServiceUnavailableResponse({
  description: 'Queue full or database unavailable; nothing was stored. See Retry-After.',
})
@Controller('api/v1')
export class IngestController {
  constructor(private readonly ingest: IngestService) {}

  @Public()
  @Post('hits')
  @HttpCode(202) // the status is set on `reply`; this states it for Nest, whose default for POST is 201
  @ApiOperation({
    summary: 'Record page views and events',
    description:
      'One hit, or `{ hits: [...] }` with 1–500 hits. With a site key (`Authorization: <key>`, `Bearer <key>` or ' +
      '`X-Api-Key`) `ip` and `timestamp` may be set; browsers send `siteId` and must come from an allowed Origin. ' +
      'Answers 202 only after the hits are written.',
  })
  @ApiBody({ schema: { oneOf: [{ $ref: getSchemaPath(HitDto) }, { $ref: getSchemaPath(HitBatchDto) }] } })
  @ApiAcceptedResponse(WRITTEN)
  async hits(@Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    send(reply, await this.ingest.ingestHits(body, { headers: request.headers, ip: request.ip }));
  }

  @Public()
  @Post('traffic')
  @HttpCode(202) // as above
  @ApiOperation({
    summary: 'Record traffic (site-analytics compatible)',
    description:
      'Single: `url`, `ip_addr`, `user_agent` as query parameters or JSON body. Batch: `{ traffic: [ { url, ' +
      'ip_address, user_agent, timestamp } ] }` with 1–200 items. Requires a site key (`Authorization: <key>`).',
  })
  @ApiQuery({ name: 'url', required: false, type: String, example: '/' })
  @ApiQuery({ name: 'ip_addr', required: false, type: String, example: '127.0.0.1' })
  @ApiQuery({ name: 'user_agent', required: false, type: String })
  @ApiBody({
    required: false,
    schema: { oneOf: [{ $ref: getSchemaPath(TrafficDto) }, { $ref: getSchemaPath(TrafficBatchDto) }] },
  })
  @ApiAcceptedResponse(WRITTEN)
  async traffic(
    @Body() body: unknown,
    @Query() query: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    send(reply, await this.ingest.ingestTraffic(body, query, { headers: request.headers, ip: request.ip }));
  }

  /**
   * CORS preflight. It carries no siteId, so any origin is answered here; the POST itself
   * checks siteId + Origin and refuses other origins with 403. No credentials are allowed.
   * Left out of the OpenAPI document: browsers send it on their own, no client calls it, and
   * the controller-wide site-key security and ingest responses would misdescribe it.
   */
  @Public()
  @Options('hits')
  @HttpCode(204)
  @ApiExcludeEndpoint()
  preflight(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    const origin = request.headers.origin;
    if (origin) {
      void reply.header('Access-Control-Allow-Origin', origin).header('Vary', 'Origin');
      void reply.header('Access-Control-Allow-Methods', 'POST');
      void reply.header('Access-Control-Allow-Headers', 'Content-Type');
      void reply.header('Access-Control-Max-Age', '86400');
    }
    void reply.status(204).send();
  }
}

function send(reply: FastifyReply, outcome: IngestOutcome): void {
  if (outcome.allowOrigin)
    void reply.header('Access-Control-Allow-Origin', outcome.allowOrigin).header('Vary', 'Origin');
  void reply.status(outcome.status).send(outcome.body);
}
