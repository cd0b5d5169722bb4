import { StoreEngine, type EngineOptions } from './engine.js';
import { WireListener } from './listener.js';

export interface ServerOptions extends EngineOptions {
  host: string;
  port: number;
}

/** The store in one thread: the engine behind a TCP listener (Jest, and `inWorker: false`). */
export class StoreServer {
  private constructor(
    private readonly engine: StoreEngine,
    private readonly listener: WireListener,
  ) {}

  static async start(options: ServerOptions): Promise<StoreServer> {
    const engine = await StoreEngine.open(options);
    const listener = new WireListener((raw, connection) => engine.handle(raw, connection), options.log);
    await listener.listen(options.host, options.port);
    return new StoreServer(engine, listener);
  }

  get port(): number {
    return this.listener.port;
  }

  /** Forces the journal into a snapshot now; a no-op without dataDir. */
  compact(): Promise<void> {
    return this.engine.compact();
  }

  /** Runs the TTL monitor once, immediately. */
  expireNow(): Promise<void> {
    return this.engine.expireNow();
  }

  async stop(): Promise<void> {
    await this.listener.close();
    await this.engine.close();
  }
}
