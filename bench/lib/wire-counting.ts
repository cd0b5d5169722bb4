import { connect, createServer, type Server, type Socket } from 'node:net';
import { MessageSplitter, peekCommandName } from '../../libs/embedded-mongo/src/wire.js';
import { HOUSEKEEPING } from './wire-recording.js';

const MAX_MESSAGE = 48 * 1024 * 1024;

/**
 * A TCP proxy between an app and its store that counts the app's commands by name (the driver's
 * housekeeping left out): how many store round trips a piece of the app's work took. `reset`
 * starts a new count, `counts` reads it.
 */
export interface CountingProxy {
  port: number;
  counts(): Record<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startCountingProxy(storePort: number): Promise<CountingProxy> {
  let counts: Record<string, number> = {};
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(storePort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const fromClient = new MessageSplitter(MAX_MESSAGE);
    client.on('data', (chunk: Buffer) => {
      for (const message of fromClient.push(chunk)) {
        const name = peekCommandName(message) ?? 'unknown';
        if (!HOUSEKEEPING.has(name)) counts[name] = (counts[name] ?? 0) + 1;
        upstream.write(message);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
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
    counts: () => ({ ...counts }),
    reset() {
      counts = {};
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
