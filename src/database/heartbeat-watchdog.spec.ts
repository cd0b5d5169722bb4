import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { HeartbeatWatchdog } from './heartbeat-watchdog.js';

const ADDRESS = '127.0.0.1:27017';
const STUCK_AFTER_MS = 12_000;

/** A driver client reduced to heartbeat events and the topology's monitors, recording restarts. */
function fakeClient(withMonitor = true) {
  const calls: string[] = [];
  const monitor = { close: () => calls.push('close'), connect: () => calls.push('connect') };
  const client = Object.assign(new EventEmitter(), {
    topology: { s: { servers: new Map(withMonitor ? [[ADDRESS, { monitor }]] : []) } },
  });
  const watchdog = new HeartbeatWatchdog(client as never, STUCK_AFTER_MS);
  return { client, calls, watchdog };
}

describe('HeartbeatWatchdog', () => {
  it('restarts the monitor of a heartbeat that neither succeeded nor failed in time, once', () => {
    const { client, calls, watchdog } = fakeClient();
    const started = performance.now();
    client.emit('serverHeartbeatStarted', { connectionId: ADDRESS });

    expect(watchdog.sweep(started + STUCK_AFTER_MS - 1000)).toEqual([]);
    expect(calls).toEqual([]);
    expect(watchdog.sweep(started + STUCK_AFTER_MS + 1000)).toEqual([ADDRESS]);
    expect(calls).toEqual(['close', 'connect']);
    // The restarted monitor reports its own heartbeats; the stuck one is not restarted again.
    expect(watchdog.sweep(started + 3 * STUCK_AFTER_MS)).toEqual([]);
    expect(calls).toEqual(['close', 'connect']);
  });

  it('leaves monitors alone whose heartbeats end, however slowly they succeed or fail', () => {
    const { client, calls, watchdog } = fakeClient();
    const started = performance.now();
    client.emit('serverHeartbeatStarted', { connectionId: ADDRESS });
    client.emit('serverHeartbeatSucceeded', { connectionId: ADDRESS });
    expect(watchdog.sweep(started + 2 * STUCK_AFTER_MS)).toEqual([]);
    client.emit('serverHeartbeatStarted', { connectionId: ADDRESS });
    client.emit('serverHeartbeatFailed', { connectionId: ADDRESS });
    expect(watchdog.sweep(started + 4 * STUCK_AFTER_MS)).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('does not throw when the driver no longer exposes the monitor', () => {
    const { client, watchdog } = fakeClient(false);
    client.emit('serverHeartbeatStarted', { connectionId: ADDRESS });
    expect(watchdog.sweep(performance.now() + 2 * STUCK_AFTER_MS)).toEqual([]);
  });
});
