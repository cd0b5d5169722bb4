import { batchesDue } from './keeping-up.js';
import type { LiveTraffic } from './live-traffic.js';

/** Requests in flight beyond which a due batch is counted as not sent rather than queued in the bench. */
const MAX_IN_FLIGHT = 256;
const TICK_MS = 20;
/** Past this an answer is given up (the app's own socket timeout is 30 s). */
const REQUEST_TIMEOUT_MS = 35_000;

export interface OfferResult {
  offeredHits: number;
  /** Hits the app acknowledged (sum of `accepted` in its 202 answers). */
  acceptedHits: number;
  /** Hits in batches answered 503 (the app's admission control: queue full or too many requests in progress). */
  refusedHits: number;
  /** Hits refused, by the 503's message (a full queue, too many requests in progress, a store that did not answer). */
  refusedBy: Record<string, number>;
  /** Hits in batches that got another status, no answer in time, or a cut connection. */
  failedHits: number;
  /** Hits due while MAX_IN_FLIGHT requests were still unanswered: never sent. */
  notSentHits: number;
  requests: number;
  /** When the first and the last batch were sent. */
  firstSentAt: Date;
  lastSentAt: Date;
}

/**
 * Open-loop load, as independent visitors' trackers or a server-side client behind a queue send
 * it: batches of `batchSize` hits at `rate` hits/s on the clock from the start, whatever the
 * answers, for `seconds`; then the answers in flight are awaited. A closed loop would slow down
 * with the server and hide exactly the backlog this measures.
 */
export async function offerLoad(options: {
  url: string;
  ingestKey: string;
  rate: number;
  seconds: number;
  batchSize: number;
  traffic: Pick<LiveTraffic, 'batch'>;
}): Promise<OfferResult> {
  const { url, ingestKey, rate, seconds, batchSize, traffic } = options;
  const totalBatches = batchesDue(seconds * 1000, rate, batchSize);
  const result: OfferResult = {
    offeredHits: totalBatches * batchSize,
    acceptedHits: 0,
    refusedHits: 0,
    refusedBy: {},
    failedHits: 0,
    notSentHits: 0,
    requests: 0,
    firstSentAt: new Date(),
    lastSentAt: new Date(),
  };
  const inFlight = new Set<Promise<void>>();
  const send = (): void => {
    const body = JSON.stringify({ hits: traffic.batch(batchSize) });
    result.requests += 1;
    result.lastSentAt = new Date();
    const request = fetch(`${url}/api/v1/hits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: ingestKey },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
      .then(async (response) => {
        const text = await response.text();
        if (response.status === 202) result.acceptedHits += (JSON.parse(text) as { accepted: number }).accepted;
        else if (response.status === 503) {
          result.refusedHits += batchSize;
          const reason = (/"message":"([^"]*)"/.exec(text)?.[1] ?? text).slice(0, 80);
          result.refusedBy[reason] = (result.refusedBy[reason] ?? 0) + batchSize;
        } else result.failedHits += batchSize;
      })
      .catch(() => {
        result.failedHits += batchSize;
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };
  const started = performance.now();
  let sentBatches = 0;
  while (sentBatches < totalBatches) {
    const due = Math.min(totalBatches, batchesDue(performance.now() - started, rate, batchSize));
    for (; sentBatches < due; sentBatches++) {
      if (inFlight.size >= MAX_IN_FLIGHT) result.notSentHits += batchSize;
      else send();
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  await Promise.all(inFlight);
  return result;
}
