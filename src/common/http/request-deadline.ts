/** Of `HTTP_TIMEOUT_MS`, what a request may take before it is answered 503 (the rest is the answer's way out). */
export const REQUEST_DEADLINE_SHARE = 0.8;
export const REQUEST_DEADLINE_RETRY_AFTER_SECONDS = 5;

/**
 * Fastify's `handlerTimeout`: every request not answered this long after it was routed is
 * answered 503 + Retry-After (see `HttpExceptionFilter`), whatever it is waiting for — a guard's
 * key or user lookup, the body, the sessionizer, a stats aggregation behind a busy store. The
 * socket timeout (`HTTP_TIMEOUT_MS` without a byte) would otherwise cut the connection without any
 * answer; a deadline counted from the handler (where an interceptor starts) never began for a
 * request still in a guard. The work is not cancelled (its MongoDB commands run to their end); its
 * late answer is dropped.
 */
export function requestDeadlineMs(httpTimeoutMs: number): number {
  return Math.floor(httpTimeoutMs * REQUEST_DEADLINE_SHARE);
}

/** Fastify's error for a request past its `handlerTimeout`. */
export function isRequestDeadlineExceeded(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'FST_ERR_HANDLER_TIMEOUT';
}
