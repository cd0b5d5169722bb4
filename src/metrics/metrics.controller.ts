import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../common/decorators/public.decorator.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus scrape endpoint. Left out of the OpenAPI document: it speaks the Prometheus text
 * format for scrapers, not JSON for API clients. Public, like /health: restrict it at the
 * network edge when the numbers should not be visible.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Public()
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
