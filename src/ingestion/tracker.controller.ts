import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/decorators/public.decorator.js';
import { TRACKER_SCRIPT } from './tracker-script.js';

@ApiTags('ingest')
@Controller()
export class TrackerController {
  @Public()
  @Get('tracker.js')
  @Header('Content-Type', 'application/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=3600')
  @Header('Access-Control-Allow-Origin', '*')
  @ApiOperation({
    summary: 'Browser tracker script',
    description:
      'Load it from a `script` element with `defer` and a `data-site-id` attribute (site id or domain). Sends page ' +
      'views (SPA navigation included), custom events with props and revenue (`window.siteline(name, options)`), ' +
      'engagement (time on page, scroll depth) and, when enabled by `data-*` attributes, outbound-link clicks, file ' +
      'downloads, 404 pages and hash routes, to `POST /api/v1/hits`. Sets no cookies and stores nothing in the ' +
      'browser. Every option: docs/tracker.md.',
  })
  @ApiProduces('application/javascript')
  @ApiOkResponse({ description: 'The script.', schema: { type: 'string' } })
  script(): string {
    return TRACKER_SCRIPT;
  }
}
