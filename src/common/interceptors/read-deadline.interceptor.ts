import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { throwError, timeout, type Observable } from 'rxjs';
import { appConfig, type AppConfig } from '../../config/configuration.js';
import { serviceUnavailable } from '../errors/service-unavailable.js';

/** Of `HTTP_TIMEOUT_MS`, what a read may take before it answers 503 (the rest is the answer's way out). */
export const READ_DEADLINE_SHARE = 0.8;
const RETRY_AFTER_SECONDS = 5;

/**
 * A read still working when most of the HTTP timeout has gone answers 503 + Retry-After instead
 * of being cut off by the socket timeout ("socket hang up"): after a bulk load a stats read may
 * wait up to 20 s for the sessionizer and then read raw hits until the rollup job catches up.
 * The work is not cancelled (its MongoDB commands run to their end); its late answer is dropped.
 */
@Injectable()
export class ReadDeadlineInterceptor implements NestInterceptor {
  private readonly deadlineMs: number;

  constructor(@Inject(appConfig.KEY) app: AppConfig) {
    this.deadlineMs = Math.floor(app.httpTimeoutMs * READ_DEADLINE_SHARE);
  }

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      timeout({
        first: this.deadlineMs,
        with: () =>
          throwError(() =>
            serviceUnavailable(
              'The statistics are taking too long to compute (a backlog after a bulk load); retry shortly',
              RETRY_AFTER_SECONDS,
            ),
          ),
      }),
    );
  }
}
