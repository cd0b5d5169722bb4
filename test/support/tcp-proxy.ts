import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'reset' | 'blackhole';

/**
 * A TCP proxy on 127.0.0.1 between the app and its database, for fault injection:
 * - `forward`: bytes pass both ways;
 * - `reset`: every open connection is destroyed and new ones are closed on arrival (the database
 *   "went away": connection refused/reset);
 * - `blackhole`: connections are accepted and kept, but nothing passes (a network partition:
 *   requests get no answer and no error).
 */
export class TcpProxy {
  private mode: ProxyMode = 'forward';
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  /** Connections accepted since the proxy started (the app reconnecting shows up here). */
  connectionsAccepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const accepted: Socket[] = [];
    const ref: { proxy?: TcpProxy } = {};
    const server = createServer((client) => {
      if (ref.proxy) ref.proxy.accept(client, targetHost, targetPort);
      else accepted.push(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    ref.proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    for (const client of accepted) ref.proxy.accept(client, targetHost, targetPort);
    return ref.proxy;
  }

  /** `mongodb://host:port/db` with the host and port replaced by the proxy's. */
  rewrite(uri: string): string {
    const url = new URL(uri);
    url.host = `127.0.0.1:${this.port}`;
    return url.toString();
  }

  setMode(mode: ProxyMode): void {
    const previous = this.mode;
    this.mode = mode;
    // A reset drops every connection. After a partition the streams have lost bytes and cannot
    // carry the wire protocol any more, so they are dropped too and the driver must open new ones.
    if (mode === 'reset' || (mode === 'forward' && previous === 'blackhole')) this.dropAll();
  }

  private dropAll(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetHost: string, targetPort: number): void {
    this.connectionsAccepted++;
    client.on('error', () => undefined);
    if (this.mode === 'reset') {
      client.destroy();
      return;
    }
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    if (this.mode === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    // Bytes are dropped in both directions while partitioned, without closing anything.
    client.on('data', (chunk: Buffer) => {
      if (this.mode === 'forward') upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode === 'forward') client.write(chunk);
    });
  }
}
