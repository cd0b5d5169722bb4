import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ConnectionInfo, Outcome } from './engine.js';
import { WireListener } from './listener.js';
import { advertisePort } from './lock.js';

export { runningStorePort } from './lock.js';
import { answerWithoutEngine } from './local-commands.js';
import { StoreServer, type ServerOptions } from './server.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

export interface EmbeddedMongoOptions {
  /**
   * Directory for the journal and snapshot; omit for a memory-only store. Its lock file names the
   * owning process and (on 127.0.0.1) its port, for `runningStorePort`.
   */
  dataDir?: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Run the TCP server and query engine in a worker thread so mingo never blocks the caller's
   * event loop. Defaults to true when the compiled `worker.js` sits next to this module (i.e.
   * running from `dist/`), false when running from `.ts` sources (Jest), where a Worker
   * could not load the TypeScript entry.
   */
  inWorker?: boolean;
  /** TTL monitor period in ms (default 1000). */
  ttlIntervalMs?: number;
  /** Journal size in bytes that triggers compaction into a snapshot (default 64 MiB). */
  compactAfterBytes?: number;
  /** Receives warnings (torn journal, bad client messages); default console.warn. In a worker, always console.warn. */
  log?: (message: string) => void;
}

/** What both the in-process and the worker-thread variants offer. */
interface Backend {
  readonly port: number;
  compact(): Promise<void>;
  expireNow(): Promise<void>;
  stop(): Promise<void>;
}

const workerUrl = new URL('./worker.js', import.meta.url);

/**
 * The engine's young generation (V8's `maxYoungGenerationSizeMb`: two semi-spaces of a third
 * each, plus the new large-object space), against V8's default of 48 MB (16 MB semi-spaces).
 * Everything the store keeps (documents, index entries) is allocated there and copied out by a
 * scavenge, and under sustained ingest the default young generation filled every few
 * milliseconds: a larger one scavenges less often, so each scavenge's fixed work (roots, the
 * pointers from old index chunks to new entries) and the temporaries caught in flight are paid
 * less often. Measured in libs/embedded-mongo/README.md ("Garbage collector"). Set here, where the
 * worker is made, it applies wherever the engine runs in a worker: the app's `npm start`, the CLI
 * and every bench launch. A process started with `--max-semi-space-size` overrides it (V8's
 * flag wins over an isolate's limits).
 */
export const ENGINE_YOUNG_GENERATION_MB = 192;

function compiledWorkerAvailable(): boolean {
  return import.meta.url.endsWith('.js') && existsSync(fileURLToPath(workerUrl));
}

function serverOptions(options: EmbeddedMongoOptions): ServerOptions {
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    dataDir: options.dataDir,
    ttlIntervalMs: options.ttlIntervalMs ?? 1000,
    compactAfterBytes: options.compactAfterBytes ?? 64 * 1024 * 1024,
    log: options.log ?? ((message) => console.warn(message)),
  };
}

/**
 * The engine in a worker thread, the listener on the caller's thread. The listener answers
 * handshakes and heartbeats itself and forwards every other message: a command that keeps the
 * engine busy for seconds must not make the driver's monitor think the server is gone.
 */
class WorkerBackend implements Backend {
  private nextRequest = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void }
  >();
  private readonly listener: WireListener;
  private exited: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    log: (message: string) => void,
  ) {
    this.listener = new WireListener((raw, connection) => this.dispatch(raw, connection), log);
    // Without these listeners a crashed worker would take the host process down with it.
    worker.on('error', (error) => log(`embedded-mongo: worker failed: ${error.stack ?? error.message}`));
    worker.on('exit', (code) => {
      this.exited = new Error(`embedded-mongo worker exited with code ${code}`);
      for (const waiter of this.waiting.values()) waiter.reject(this.exited);
      this.waiting.clear();
      // Without its engine the store is gone: clients must see closed connections, not a
      // listener that still answers heartbeats while every command waits forever.
      void this.listener.close();
    });
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type !== 'done' && reply.type !== 'answer') return;
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.type === 'done' && reply.error) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply);
    });
  }

  get port(): number {
    return this.listener.port;
  }

  static async start(options: EmbeddedMongoOptions): Promise<WorkerBackend> {
    // Functions cannot cross the thread boundary; the worker logs to console.warn itself.
    const { log, host, port, ...transferable } = serverOptions(options);
    const worker = new Worker(workerUrl, {
      workerData: transferable,
      resourceLimits: { maxYoungGenerationSizeMb: ENGINE_YOUNG_GENERATION_MB },
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      worker.once('error', onError);
      worker.once('message', (reply: WorkerReply) => {
        worker.off('error', onError);
        if (reply.type === 'ready') resolve();
        else reject(new Error(reply.type === 'failed' ? reply.error : 'embedded-mongo worker failed to start'));
      });
    });
    const backend = new WorkerBackend(worker, log);
    try {
      await backend.listener.listen(host, port);
    } catch (error) {
      await backend.request({ type: 'stop' }).catch(() => undefined);
      await worker.terminate();
      throw error;
    }
    return backend;
  }

  private async dispatch(raw: Buffer, connection: ConnectionInfo): Promise<Outcome> {
    const local = answerWithoutEngine(raw, connection);
    if (local) return local;
    // A copy of exactly this message moves to the worker; `raw` may be a slice of a larger read.
    const copy = new Uint8Array(raw);
    const answer = await this.request({ type: 'message', raw: copy, ...connection }, [copy.buffer]);
    if (answer.type !== 'answer') throw new Error(`embedded-mongo worker answered a message with ${answer.type}`);
    return answer.close !== undefined ? { close: answer.close } : { reply: answer.reply };
  }

  private request(message: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(this.exited);
        return;
      }
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id } as WorkerRequest, transfer);
    });
  }

  async compact(): Promise<void> {
    await this.request({ type: 'compact' });
  }

  async expireNow(): Promise<void> {
    await this.request({ type: 'expire' });
  }

  async stop(): Promise<void> {
    await this.listener.close();
    await this.request({ type: 'stop' });
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * An in-process MongoDB-wire-compatible store for development and tests. Connect any
 * MongoDB driver (or mongoose) to `uri`; production uses a real MongoDB instead.
 */
export class EmbeddedMongo {
  readonly uri: string;
  readonly port: number;

  private constructor(
    private readonly backend: Backend,
    readonly host: string,
  ) {
    this.port = backend.port;
    this.uri = `mongodb://${host}:${backend.port}`;
  }

  static async start(options: EmbeddedMongoOptions = {}): Promise<EmbeddedMongo> {
    const inWorker = options.inWorker ?? compiledWorkerAvailable();
    const backend: Backend = inWorker
      ? await WorkerBackend.start(options)
      : await StoreServer.start(serverOptions(options));
    const host = options.host ?? '127.0.0.1';
    // Only a loopback store is advertised: it is then reachable by local processes alone.
    if (options.dataDir && host === '127.0.0.1') advertisePort(options.dataDir, backend.port);
    return new EmbeddedMongo(backend, host);
  }

  /** The connection string for one database, e.g. `mongodb://127.0.0.1:PORT/siteline`. */
  uriFor(db: string): string {
    return `${this.uri}/${db}`;
  }

  /** Compacts the journal into the snapshot now (no-op without dataDir). */
  compact(): Promise<void> {
    return this.backend.compact();
  }

  /** Runs the TTL monitor once, now. */
  expireNow(): Promise<void> {
    return this.backend.expireNow();
  }

  /** Closes all client sockets and the listener and flushes the journal. */
  stop(): Promise<void> {
    return this.backend.stop();
  }
}
