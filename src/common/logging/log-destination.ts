import { pino, type DestinationStream } from 'pino';

type Destination = ReturnType<typeof pino.destination>;

let destination: Destination | undefined;
let closing: Promise<void> | undefined;

/**
 * Where every log line of the process goes: stdout through one asynchronous writer (the
 * request log is on the ingest hot path). A process that ends by re-raising a signal would drop
 * the lines still in flight, which are the ones saying how shutdown went, so `main.ts` calls
 * `closeLogDestination` after `app.close()`. Like pino's own default, a process whose
 * `process.stdout.write` was replaced (a test capturing output) is written through that instead.
 */
export function logDestination(): DestinationStream {
  const stdout = process.stdout as NodeJS.WriteStream & { constructor: { prototype: { write: unknown } } };
  if (stdout.write !== stdout.constructor.prototype.write) return process.stdout;
  destination ??= pino.destination({ dest: 1, sync: false });
  return destination;
}

/** Writes out everything logged so far and ends the log writer (stdout itself stays open). */
export function closeLogDestination(): Promise<void> {
  const writer = destination;
  if (!writer) return Promise.resolve();
  closing ??= new Promise((resolve) => {
    writer.once('close', () => resolve());
    writer.once('error', () => resolve());
    writer.end();
  });
  return closing;
}
