import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';

type DriverClient = ReturnType<Connection['getClient']>;

/** The part of the driver's (internal) server monitor needed to start it afresh. */
interface RestartableMonitor {
  close(): void;
  connect(): void;
}

/** Beyond the driver's own bound on a check, time for an event loop busy with other work. */
const BUSY_LOOP_MARGIN_MS = 5000;
const SWEEP_INTERVAL_MS = 1000;

/**
 * Restarts a server monitor whose heartbeat never ends, working around a MongoDB Node driver
 * defect (driver 7.8). When the database closes the monitor's connection (FIN: a restarted or
 * stopped server, a proxy dropping connections) and a check is requested in the same event-loop
 * turn, after Node destroyed the socket but before its 'close' event reached the driver, the
 * check writes its `hello` to the dead socket and waits for a 'drain' that never comes; no
 * socket timeout fires on a destroyed socket. That check never ends and the monitor never checks
 * again: the server stays "Unknown", every operation fails server selection with 503 and
 * readiness stays down until the process restarts, although the database answers again.
 *
 * Any real check ends within `connectTimeoutMS` (plus `heartbeatFrequencyMS` when it awaits a
 * streamed reply); one still running well past that is stuck, and a new monitor replaces it.
 */
export class HeartbeatWatchdog {
  private readonly logger = new Logger('Database');
  /** Per server address, when its running heartbeat started. */
  private readonly running = new Map<string, number>();

  constructor(
    private readonly client: DriverClient,
    readonly stuckAfterMs: number,
  ) {
    client.on('serverHeartbeatStarted', (event) => this.running.set(event.connectionId, performance.now()));
    client.on('serverHeartbeatSucceeded', (event) => this.running.delete(event.connectionId));
    client.on('serverHeartbeatFailed', (event) => this.running.delete(event.connectionId));
  }

  /** Restarts the monitor of every server whose heartbeat has run longer than `stuckAfterMs`; returns their addresses. */
  sweep(now = performance.now()): string[] {
    const restarted: string[] = [];
    for (const [address, since] of this.running) {
      if (now - since <= this.stuckAfterMs) continue;
      this.running.delete(address);
      const monitor = this.monitorOf(address);
      if (!monitor) {
        this.logger.error(
          `The heartbeat to ${address} has not ended after ${Math.round(now - since)} ms and its monitor cannot be restarted`,
        );
        continue;
      }
      this.logger.warn(
        `The heartbeat to ${address} has not ended after ${Math.round(now - since)} ms: restarting its monitor`,
      );
      monitor.close();
      monitor.connect();
      restarted.push(address);
    }
    return restarted;
  }

  /** The driver keeps monitors on its topology's servers, keyed by the address heartbeat events carry. */
  private monitorOf(address: string): RestartableMonitor | undefined {
    const topology = (this.client as unknown as { topology?: { s?: { servers?: Map<string, { monitor?: unknown }> } } })
      .topology;
    const monitor = topology?.s?.servers?.get(address)?.monitor;
    return isRestartable(monitor) ? monitor : undefined;
  }
}

function isRestartable(monitor: unknown): monitor is RestartableMonitor {
  return (
    typeof monitor === 'object' &&
    monitor !== null &&
    typeof (monitor as RestartableMonitor).close === 'function' &&
    typeof (monitor as RestartableMonitor).connect === 'function'
  );
}

/** Runs the watchdog on the application's connection for as long as the app runs. */
@Injectable()
export class DatabaseHeartbeatWatchdog implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(@InjectConnection() private readonly connection: Connection) {}

  onModuleInit(): void {
    const client = this.connection.getClient();
    const { connectTimeoutMS, heartbeatFrequencyMS } = client.options;
    const watchdog = new HeartbeatWatchdog(client, connectTimeoutMS + heartbeatFrequencyMS + BUSY_LOOP_MARGIN_MS);
    this.timer = setInterval(() => watchdog.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
