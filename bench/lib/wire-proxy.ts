import { connect, createServer, type Server, type Socket } from 'node:net';
import { MessageSplitter } from '../../libs/embedded-mongo/src/wire.js';

const MAX_MESSAGE = 48 * 1024 * 1024;

/** What a proxy does with one app connection's traffic: sees each whole message before it goes on. */
export interface ProxiedConnection {
  /** A message from the app, in the order the store receives it. */
  fromApp(message: Buffer): void;
  /** A reply from the store, before the app gets it (when absent, replies pass through unsplit). */
  fromStore?(reply: Buffer): void;
}

export interface WireProxy {
  port: number;
  stop(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 between an app and its store (storePort), splitting the traffic into
 * wire messages for `open()`'s handlers: one handler per connection the app opens.
 */
export async function startWireProxy(storePort: number, open: () => ProxiedConnection): Promise<WireProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const connection = open();
    const upstream = connect(storePort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const fromClient = new MessageSplitter(MAX_MESSAGE);
    client.on('data', (chunk: Buffer) => {
      for (const message of fromClient.push(chunk)) {
        connection.fromApp(message);
        upstream.write(message);
      }
    });
    const onReply = connection.fromStore?.bind(connection);
    if (onReply) {
      const fromStore = new MessageSplitter(MAX_MESSAGE);
      upstream.on('data', (chunk: Buffer) => {
        for (const reply of fromStore.push(chunk)) {
          onReply(reply);
          client.write(reply);
        }
      });
    } else upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
