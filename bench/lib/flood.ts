import { Agent, request } from 'node:http';
import { ProcessMonitor } from './process-stats.js';
import type { LoadResult } from './load.js';

export interface FloodSpec {
  name: string;
  url: string;
  headers: Record<string, string>;
  bodies: string[];
  connections: number;
  seconds: number;
  /** How long requests in flight when sending stops may take to answer. */
  drainSeconds: number;
}

const ACCEPTED = /"accepted":(\d+)/;

/**
 * A flood client that, unlike autocannon, waits for the answers of requests still in flight
 * when sending stops: under overload the first acknowledgements arrive late, and a hit counts as
 * acknowledged only if its 202 was received — that is what the stored count is checked against.
 */
export async function runFloodLoad(spec: FloodSpec, serverPid: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const target = new URL('/api/v1/hits', spec.url);
  const statusCodes: Record<string, number> = {};
  const latencies: number[] = [];
  let accepted = 0;
  let errors = 0;
  let retryAfter = false;
  let turn = 0;
  const monitor = new ProcessMonitor(serverPid);
  const started = performance.now();
  const stopSendingAt = started + spec.seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopSendingAt) {
      const body = spec.bodies[turn++ % spec.bodies.length];
      const sent = performance.now();
      try {
        const response = await post(agent, target, spec.headers, body, spec.drainSeconds * 1000);
        latencies.push(performance.now() - sent);
        statusCodes[response.status] = (statusCodes[response.status] ?? 0) + 1;
        if (response.status === 202) accepted += Number(ACCEPTED.exec(response.text)?.[1] ?? 0);
        else if (response.retryAfter) retryAfter = true;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  const server = monitor.stop();
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number): number =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  const requests = latencies.length;
  const non2xx = Object.entries(statusCodes).reduce(
    (sum, [code, count]) => sum + (code.startsWith('2') ? 0 : count),
    0,
  );
  return {
    scenario: spec.name,
    connections: spec.connections,
    seconds: Math.round(seconds * 10) / 10,
    requests,
    reqPerSec: Math.round(requests / seconds),
    hitsPerSec: Math.round(accepted / seconds),
    acceptedHits: accepted,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: Math.round(latencies.at(-1) ?? 0),
    non2xx,
    errors,
    statusCodes,
    retryAfterSeen: retryAfter,
    server,
  };
}

function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; text: string; retryAfter: boolean }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        timeout: timeoutMs,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            text: Buffer.concat(chunks).toString(),
            retryAfter: incoming.headers['retry-after'] !== undefined,
          }),
        );
        incoming.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('timeout')));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
