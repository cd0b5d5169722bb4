import { setTimeout as sleep } from 'node:timers/promises';

export interface SendOutcome {
  eventIds: string[];
  /** HTTP status, or 0 when the request failed without an answer (connection refused/reset). */
  status: number;
  retryAfter: string | null;
  /** `performance.now()` when the request was sent. */
  startedAt: number;
  elapsedMs: number;
  /** Parsed JSON body when there was one. */
  body: unknown;
}

export interface LoadOptions {
  /** Base URL on 127.0.0.1. */
  url: string;
  key: string;
  /** Concurrent clients. */
  clients: number;
  /** Hits per request. */
  batchSize: number;
  /** Each client stops after this many distinct batches … */
  batchesPerClient: number;
  /** … or when this returns true. */
  stop?: () => boolean;
  /** Unanswered / 503 / 429 batches are re-sent (same eventIds) up to this many times. */
  retries?: number;
  /** A request still unanswered after this long counts as hung (status -1). */
  requestTimeoutMs?: number;
  /** Prefix for eventIds, so several loads can share a site. */
  prefix?: string;
  /** Every client pauses this long between requests (ms). */
  pauseMs?: number;
}

export const HUNG = -1;

export interface LoadResult {
  outcomes: SendOutcome[];
  /** eventIds some request answered with 202 for. */
  acknowledged: Set<string>;
  /** Every eventId sent at least once. */
  sent: Set<string>;
}

/** Sends one batch of hits with a site key; never throws. */
export async function sendBatch(
  url: string,
  key: string,
  eventIds: string[],
  timeoutMs = 20_000,
): Promise<SendOutcome> {
  const started = performance.now();
  // Many visitors, as real traffic has: one per batch (documentation range addresses).
  const ip = `198.51.100.${(hashCode(eventIds[0] ?? '') % 250) + 1}`;
  const hits = eventIds.map((eventId) => ({
    url: `/load/${eventId}`,
    eventId,
    ip,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0',
  }));
  try {
    const response = await fetch(`${url}/api/v1/hits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: key },
      body: JSON.stringify({ hits }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return {
      eventIds,
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      startedAt: started,
      elapsedMs: performance.now() - started,
      body,
    };
  } catch (error) {
    // AbortSignal.timeout rejects with a DOMException, which is not an Error in every realm.
    const name = (error as { name?: unknown } | null)?.name;
    const hung = name === 'TimeoutError' || name === 'AbortError';
    const cause =
      error instanceof Error
        ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}`
        : String(error);
    return {
      eventIds,
      status: hung ? HUNG : 0,
      retryAfter: null,
      startedAt: started,
      elapsedMs: performance.now() - started,
      body: cause,
    };
  }
}

function hashCode(text: string): number {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash;
}

/**
 * Concurrent clients sending batches of hits with unique eventIds; a batch answered 503, 429 or not
 * at all is re-sent with the same eventIds (as a well-behaved client would), so any write that
 * happened without its acknowledgement shows up as a duplicate, never as a second document.
 */
export async function runIngestLoad(options: LoadOptions): Promise<LoadResult> {
  const outcomes: SendOutcome[] = [];
  const acknowledged = new Set<string>();
  const sent = new Set<string>();
  const prefix = options.prefix ?? 'load';
  const client = async (clientIndex: number): Promise<void> => {
    for (let batch = 0; batch < options.batchesPerClient && !options.stop?.(); batch++) {
      const eventIds = Array.from(
        { length: options.batchSize },
        (_, item) => `${prefix}-${clientIndex}-${batch}-${item}`,
      );
      for (let attempt = 0; attempt <= (options.retries ?? 0); attempt++) {
        eventIds.forEach((id) => sent.add(id));
        const outcome = await sendBatch(options.url, options.key, eventIds, options.requestTimeoutMs);
        outcomes.push(outcome);
        if (outcome.status === 202) {
          eventIds.forEach((id) => acknowledged.add(id));
          break;
        }
        if (![0, 429, 503, HUNG].includes(outcome.status)) break;
        // Told to back off (or no answer at all): wait as a well-behaved client does, retried or not.
        const waitSeconds = Number(outcome.retryAfter ?? '0');
        await sleep(Math.min(Number.isFinite(waitSeconds) && waitSeconds > 0 ? waitSeconds * 1000 : 100, 2000));
      }
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, index) => client(index)));
  return { outcomes, acknowledged, sent };
}

/** eventIds stored more than once, and acknowledged eventIds missing, among the stored documents. */
export function reconcile(
  stored: Array<{ eventId?: string | null }>,
  acknowledged: Set<string>,
): { duplicated: string[]; lost: string[] } {
  const counts = new Map<string, number>();
  for (const document of stored) {
    if (document.eventId) counts.set(document.eventId, (counts.get(document.eventId) ?? 0) + 1);
  }
  const duplicated = [...counts].filter(([, count]) => count > 1).map(([id]) => id);
  const lost = [...acknowledged].filter((id) => !counts.has(id));
  return { duplicated, lost };
}
