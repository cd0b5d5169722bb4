import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../common/decorators/public.decorator.js';
import { CHART_JS_ASSET, DashboardAssets } from './dashboard-assets.js';

/**
 * Strict policy for the dashboard page: only same-origin scripts, styles and API calls; no inline
 * code, no eval, no framing. Chart.js styles its canvas through the CSSOM, which the policy allows.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The dashboard: a static shell whose scripts call the public JSON API. */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  constructor(private readonly assets: DashboardAssets) {}

  @Get()
  index(@Res() reply: FastifyReply): void {
    this.send(reply, 'index.html', 'no-cache');
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() reply: FastifyReply): void {
    this.send(reply, name, 'no-cache');
  }

  @Get('assets/vendor/chart.umd.min.js')
  chartJs(@Res() reply: FastifyReply): void {
    // The bundle only changes with the installed chart.js version; the HTML revalidates anyway.
    this.send(reply, CHART_JS_ASSET, 'public, max-age=86400');
  }

  private send(reply: FastifyReply, name: string, cacheControl: string): void {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException(`No dashboard file named ${name}`);
    void reply
      .header('Content-Type', asset.contentType)
      .header('Cache-Control', cacheControl)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'same-origin')
      .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
      .send(asset.body);
  }
}
