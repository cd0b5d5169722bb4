import { createServer, type Server, type Socket } from 'node:net';
import { MAX_MESSAGE_SIZE } from './commands/handshake.js';
import type { ConnectionInfo, Outcome } from './engine.js';
import type { Logger } from './journal.js';
import { MessageSplitter } from './wire.js';

/** Answers one whole wire message of a connection. */
export type Dispatch = (raw: Buffer, connection: ConnectionInfo) => Promise<Outcome> | Outcome;

/**
 * The TCP side of the store: accepts connections, cuts their byte streams into messages and
 * writes back what `dispatch` answers, strictly in order per connection (connections do not
 * wait for each other).
 */
export class WireListener {
  private readonly sockets = new Set<Socket>();
  private nextConnectionId = 1;
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly dispatch: Dispatch,
    private readonly log: Logger,
  ) {}

  listen(host: string, port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const address = server.address();
        this.port = typeof address === 'object' && address ? address.port : port;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    const connection: ConnectionInfo = {
      connectionId: this.nextConnectionId++,
      clientAddress: `${socket.remoteAddress ?? '127.0.0.1'}:${socket.remotePort ?? 0}`,
    };
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const splitter = new MessageSplitter(MAX_MESSAGE_SIZE);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = splitter.push(chunk);
      } catch (error) {
        this.log(`embedded-mongo: connection ${connection.connectionId} sent ${(error as Error).message}; closing it`);
        socket.destroy();
        return;
      }
      for (const message of messages) {
        queue = queue
          .then(() => this.dispatch(message, connection))
          .then((outcome) => {
            if ('close' in outcome) {
              this.log(`embedded-mongo: ${outcome.close}; closing the connection`);
              socket.destroy();
            } else if (outcome.reply && !socket.destroyed) socket.write(outcome.reply);
          })
          .catch((error: unknown) => {
            // A bug must cost one connection, never the process (or the host application).
            this.log(
              `embedded-mongo: internal error on connection ${connection.connectionId}: ${(error as Error).stack ?? String(error)}`,
            );
            socket.destroy();
          });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Closes every client socket and the listening socket. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
