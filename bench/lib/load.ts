import autocannon, { type RequestSpec } from 'autocannon';
import { ProcessMonitor, type ProcessUsage } from './process-stats.js';

export interface LoadSpec {
  name: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  /** Bodies sent in turn (a pool, so the server sees varied hits). */
  bodies: string[];
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Hits per request, for hits/s when the response does not say (the raw ceiling does). */
  timeoutSeconds?: number;
}

export interface LoadResult {
  scenario: string;
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  hitsPerSec: number;
  acceptedHits: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  retryAfterSeen: boolean;
  server: ProcessUsage;
}

const ACCEPTED = /"accepted":(\d+)/;

function requests(spec: LoadSpec, tally: { accepted: number; retryAfter: boolean }): RequestSpec[] {
  let turn = 0;
  return [
    {
      method: 'POST',
      path: spec.path,
      headers: { 'content-type': 'application/json', ...spec.headers },
      body: spec.bodies[0],
      setupRequest: (request) => {
        request.body = spec.bodies[turn++ % spec.bodies.length];
        return request;
      },
      onResponse: (status, body, _context, headers) => {
        if (status === 202) tally.accepted += Number(ACCEPTED.exec(body)?.[1] ?? 0);
        else if (headers['retry-after'] !== undefined) tally.retryAfter = true;
      },
    },
  ];
}

/** Warm-up (discarded), then a measured run with the server process's CPU and RSS sampled. */
export async function runLoad(spec: LoadSpec, serverPid: number): Promise<LoadResult> {
  const options = {
    url: spec.url,
    connections: spec.connections,
    timeout: spec.timeoutSeconds ?? 30,
  };
  if (spec.warmupSeconds > 0) {
    await autocannon({
      ...options,
      duration: spec.warmupSeconds,
      requests: requests(spec, { accepted: 0, retryAfter: false }),
    });
  }
  const tally = { accepted: 0, retryAfter: false };
  const monitor = new ProcessMonitor(serverPid);
  const result = await autocannon({ ...options, duration: spec.seconds, requests: requests(spec, tally) });
  const server = monitor.stop();
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, Number(count)]),
  );
  return {
    scenario: spec.name,
    connections: spec.connections,
    seconds: result.duration,
    requests: result.requests.total,
    reqPerSec: Math.round(result.requests.total / result.duration),
    hitsPerSec: Math.round(tally.accepted / result.duration),
    acceptedHits: tally.accepted,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes,
    retryAfterSeen: tally.retryAfter,
    server,
  };
}
