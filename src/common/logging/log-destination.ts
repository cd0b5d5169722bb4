import { pino, type DestinationStream } from 'pino';
import pinoPretty from 'pino-pretty';

type Destination = ReturnType<typeof pino.destination>;

let destination: Destination | undefined;
let closing: Promise<void> | undefined;

/**
 * Logs are JSON lines, for log pipelines, except in development on a terminal: `npm start` in a
 * shell is read by a person, so each line is formatted by pino-pretty (time, level, context,
 * message; request fields on the same line) and Nest's startup wiring report is left out. Production (`NODE_ENV=production`), tests and any
 * output that is piped or redirected stay JSON.
 */
export function wantsPrettyLogs(nodeEnv: string): boolean {
  return nodeEnv === 'development' && process.stdout.isTTY === true;
}

/** Nest's module-by-module and route-by-route startup report: ~90 lines nobody at a terminal reads. */
const WIRING_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

function prettyWriter(writer: Destination): DestinationStream {
  const format = pinoPretty.prettyFactory({
    colorize: pinoPretty.isColorSupported,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context',
    messageFormat: '{if context}[{context}] {end}{msg}',
    singleLine: true,
  });
  return {
    write: (line: string) => {
      const { context } = JSON.parse(line) as { context?: unknown };
      if (typeof context === 'string' && WIRING_CONTEXTS.has(context)) return;
      writer.write(format(line));
    },
  };
}

/**
 * Where every log line of the process goes: stdout through one asynchronous writer (the
 * request log is on the ingest hot path). A process that ends by re-raising a signal would drop
 * the lines still in flight, which are the ones saying how shutdown went, so `main.ts` calls
 * `closeLogDestination` after `app.close()`. Like pino's own default, a process whose
 * `process.stdout.write` was replaced (a test capturing output) is written through that instead.
 */
export function logDestination(options: { pretty: boolean } = { pretty: false }): DestinationStream {
  const stdout = process.stdout as NodeJS.WriteStream & { constructor: { prototype: { write: unknown } } };
  if (stdout.write !== stdout.constructor.prototype.write) return process.stdout;
  destination ??= pino.destination({ dest: 1, sync: false });
  return options.pretty ? prettyWriter(destination) : destination;
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
