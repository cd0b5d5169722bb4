import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one application instance. Each app gets its own Registry (not
 * prom-client's global one), so several instances in one process — as the e2e tests run
 * them — do not clash over metric names.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly hits = new Counter({
    name: 'siteline_hits_total',
    help: 'Hits received, by outcome',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly hitsRejected = new Counter({
    name: 'siteline_hits_rejected_total',
    help: 'Hits rejected, by reason (the offending field or condition)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly botHits = new Counter({
    name: 'siteline_hits_bot_total',
    help: 'Accepted hits classified BOT, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly writeBatchSize = new Histogram({
    name: 'siteline_write_batch_size',
    help: 'Hits per group-commit insertMany',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [this.registry],
  });

  readonly writeLatency = new Histogram({
    name: 'siteline_write_latency_seconds',
    help: 'Duration of one group-commit write (insertMany plus visitor marks)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'siteline_ingest_queue_depth',
    help: 'Hits waiting for the group-commit writer',
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: 'siteline_http_requests_total',
    help: 'HTTP requests answered, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'siteline_' });
  }
}
