import { parentPort, workerData } from 'node:worker_threads';
import { StoreServer, type ServerOptions } from './server.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * Worker-thread entry: runs the whole store (TCP server, mingo, journal) off the main thread,
 * which only learns the port. Loaded from compiled `dist/` output only.
 */
const port = parentPort;
if (!port) throw new Error('embedded-mongo worker.js must run inside a worker thread');

const options: ServerOptions = {
  ...(workerData as Omit<ServerOptions, 'log'>),
  log: (message) => console.warn(message),
};

try {
  const store = await StoreServer.start(options);
  port.postMessage({ type: 'ready', port: store.port } satisfies WorkerReply);
  port.on('message', (request: WorkerRequest) => {
    const action =
      request.type === 'compact' ? store.compact() : request.type === 'expire' ? store.expireNow() : store.stop();
    action.then(
      () => port.postMessage({ type: 'done', id: request.id } satisfies WorkerReply),
      (error: Error) => port.postMessage({ type: 'done', id: request.id, error: error.message } satisfies WorkerReply),
    );
  });
} catch (error) {
  port.postMessage({ type: 'failed', error: (error as Error).message } satisfies WorkerReply);
}
