import { createServer, type Server, type Socket } from 'node:net';
import type { Document } from 'bson';
import { Catalog } from './catalog.js';
import { runCommand, WRITE_COMMANDS } from './commands/index.js';
import { MAX_MESSAGE_SIZE } from './commands/handshake.js';
import { CursorManager } from './cursors.js';
import { toErrorReply } from './errors.js';
import { Journal, type Logger } from './journal.js';
import { expireDocuments } from './ttl.js';
import { encodeMsg, encodeReply, MessageSplitter, parseMessage, type IncomingMessage } from './wire.js';

export interface ServerOptions {
  host: string;
  port: number;
  dataDir?: string;
  /** How often the TTL monitor runs (MongoDB: 60 s; here 1 s by default). */
  ttlIntervalMs: number;
  /** Journal size that triggers compaction into a snapshot. */
  compactAfterBytes: number;
  log: Logger;
}

/** The store itself: catalogue, cursors, journal, TTL monitor and the TCP listener. */
export class StoreServer {
  private readonly catalog = new Catalog();
  private readonly cursors = new CursorManager();
  private readonly sockets = new Set<Socket>();
  private readonly startedAt = Date.now();
  private nextConnectionId = 1;
  private server: Server | undefined;
  private journal: Journal | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  port = 0;

  private constructor(private readonly options: ServerOptions) {}

  static async start(options: ServerOptions): Promise<StoreServer> {
    const store = new StoreServer(options);
    if (options.dataDir) {
      store.journal = await Journal.open(options.dataDir, store.catalog, {
        compactAfterBytes: options.compactAfterBytes,
        log: options.log,
      });
    }
    await store.listen();
    store.ttlTimer = setInterval(() => void store.expire(), options.ttlIntervalMs);
    store.ttlTimer.unref();
    return store;
  }

  private listen(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        const address = server.address();
        this.port = typeof address === 'object' && address ? address.port : this.options.port;
        resolve();
      });
    });
  }

  private async expire(): Promise<void> {
    try {
      if (expireDocuments(this.catalog) > 0) await this.journal?.commit();
    } catch (error) {
      this.options.log(`embedded-mongo: TTL monitor failed: ${(error as Error).message}`);
    }
  }

  private accept(socket: Socket): void {
    const connectionId = this.nextConnectionId++;
    const clientAddress = `${socket.remoteAddress ?? '127.0.0.1'}:${socket.remotePort ?? 0}`;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const splitter = new MessageSplitter(MAX_MESSAGE_SIZE);
    // Messages of one connection are answered strictly in order.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = splitter.push(chunk);
      } catch (error) {
        this.options.log(`embedded-mongo: connection ${connectionId} sent ${(error as Error).message}; closing it`);
        socket.destroy();
        return;
      }
      for (const message of messages) {
        queue = queue
          .then(() => this.handle(socket, message, connectionId, clientAddress))
          .catch((error: unknown) => {
            // A bug must cost one connection, never the process (or the host application).
            this.options.log(
              `embedded-mongo: internal error on connection ${connectionId}: ${(error as Error).stack ?? String(error)}`,
            );
            socket.destroy();
          });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async handle(socket: Socket, raw: Buffer, connectionId: number, clientAddress: string): Promise<void> {
    let message: IncomingMessage;
    try {
      message = parseMessage(raw);
    } catch (error) {
      this.options.log(
        `embedded-mongo: unparseable message on connection ${connectionId}: ${(error as Error).message}`,
      );
      socket.destroy();
      return;
    }
    if (message.kind === 'unsupported') {
      this.options.log(`embedded-mongo: unsupported opCode ${message.opCode}; closing connection ${connectionId}`);
      socket.destroy();
      return;
    }
    let body: Document;
    let db: string;
    let sequences = new Map<string, Document[]>();
    if (message.kind === 'query') {
      const query =
        message.query.$query && typeof message.query.$query === 'object'
          ? (message.query.$query as Document)
          : message.query;
      body = query;
      db = message.collection.split('.')[0];
    } else {
      body = message.body;
      db = typeof body.$db === 'string' ? body.$db : 'admin';
      sequences = message.sequences;
    }
    const reply = await this.execute(body, sequences, { db, connectionId, clientAddress });
    if (message.kind === 'msg' && message.moreToCome) return;
    if (socket.destroyed) return;
    const encode = message.kind === 'query' ? encodeReply : encodeMsg;
    let bytes: Buffer;
    try {
      bytes = encode(message.requestId, reply);
    } catch (error) {
      // e.g. a reply over the BSON size limit: report it instead of dropping the connection.
      bytes = encode(message.requestId, toErrorReply(error));
    }
    socket.write(bytes);
  }

  private async execute(
    body: Document,
    sequences: Map<string, Document[]>,
    request: { db: string; connectionId: number; clientAddress: string },
  ): Promise<Document> {
    let reply: Document;
    try {
      reply = runCommand(body, sequences, {
        ...request,
        catalog: this.catalog,
        cursors: this.cursors,
        startedAt: this.startedAt,
      });
    } catch (error) {
      reply = toErrorReply(error);
    }
    if (this.journal && WRITE_COMMANDS.has(Object.keys(body)[0] ?? '')) {
      try {
        await this.journal.commit();
      } catch (error) {
        reply = toErrorReply(error);
      }
    }
    return reply;
  }

  /** Forces the journal into a snapshot now; a no-op without dataDir. */
  async compact(): Promise<void> {
    await this.journal?.compactNow();
  }

  /** Runs the TTL monitor once, immediately. */
  async expireNow(): Promise<void> {
    await this.expire();
  }

  async stop(): Promise<void> {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.journal?.close();
  }
}
