import { parentPort, workerData } from 'node:worker_threads';
import { StoreEngine, type EngineOptions, type Outcome } from './engine.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * Worker-thread entry: runs the engine (catalogue, mingo, journal) off the main thread, whose
 * listener forwards every message it does not answer itself. Loaded from compiled `dist/` output only.
 */
const port = parentPort;
if (!port) throw new Error('embedded-mongo worker.js must run inside a worker thread');

const options: EngineOptions = {
  ...(workerData as Omit<EngineOptions, 'log'>),
  log: (message) => console.warn(message),
};

function answer(id: number, outcome: Outcome): void {
  if ('close' in outcome) {
    port!.postMessage({ type: 'answer', id, close: outcome.close } satisfies WorkerReply);
    return;
  }
  const { reply } = outcome;
  // A reply of its own buffer moves to the main thread without a copy.
  const transferable = reply && reply.byteOffset === 0 && reply.byteLength === reply.buffer.byteLength;
  const owned = reply && !transferable ? new Uint8Array(reply) : reply;
  port!.postMessage(
    { type: 'answer', id, reply: owned } satisfies WorkerReply,
    owned ? [owned.buffer as ArrayBuffer] : [],
  );
}

try {
  const engine = await StoreEngine.open(options);
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'message') {
      engine.handle(request.raw, request).then(
        (outcome) => answer(request.id, outcome),
        (error: Error) => answer(request.id, { close: `internal error: ${error.stack ?? error.message}` }),
      );
      return;
    }
    const action =
      request.type === 'compact' ? engine.compact() : request.type === 'expire' ? engine.expireNow() : engine.close();
    action.then(
      () => port.postMessage({ type: 'done', id: request.id } satisfies WorkerReply),
      (error: Error) => port.postMessage({ type: 'done', id: request.id, error: error.message } satisfies WorkerReply),
    );
  });
} catch (error) {
  port.postMessage({ type: 'failed', error: (error as Error).message } satisfies WorkerReply);
}
