import type { Document } from 'bson';
import { Catalog } from './catalog.js';
import { runCommand, WRITE_COMMANDS } from './commands/index.js';
import { CursorManager } from './cursors.js';
import { toErrorReply } from './errors.js';
import { Journal, type Logger } from './journal.js';
import { SessionRegistry } from './sessions.js';
import { expireDocuments } from './ttl.js';
import { encodeResponse, parseMessage, type IncomingMessage } from './wire.js';

export interface EngineOptions {
  dataDir?: string;
  /** How often the TTL monitor runs (MongoDB: 60 s; here 1 s by default). */
  ttlIntervalMs: number;
  /** Journal size that triggers compaction into a snapshot. */
  compactAfterBytes: number;
  log: Logger;
}

/** Who sent a message: the listener's connection id and the peer address. */
export interface ConnectionInfo {
  connectionId: number;
  clientAddress: string;
}

/** What to do with a connection after one message: send `reply` (none for moreToCome), or close it. */
export type Outcome = { reply?: Uint8Array } | { close: string };

/** The store's state and command execution: catalogue, cursors, journal and TTL monitor, no sockets. */
export class StoreEngine {
  private readonly catalog = new Catalog();
  private readonly cursors = new CursorManager();
  private readonly sessions = new SessionRegistry();
  private readonly startedAt = Date.now();
  private journal: Journal | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: EngineOptions) {}

  static async open(options: EngineOptions): Promise<StoreEngine> {
    const engine = new StoreEngine(options);
    if (options.dataDir) {
      engine.journal = await Journal.open(options.dataDir, engine.catalog, {
        compactAfterBytes: options.compactAfterBytes,
        log: options.log,
      });
    }
    engine.ttlTimer = setInterval(() => void engine.expire(), options.ttlIntervalMs);
    engine.ttlTimer.unref();
    return engine;
  }

  private async expire(): Promise<void> {
    try {
      if (expireDocuments(this.catalog) > 0) await this.journal?.commit();
    } catch (error) {
      this.options.log(`embedded-mongo: TTL monitor failed: ${(error as Error).message}`);
    }
  }

  /** Parses, runs and answers one wire message. */
  async handle(raw: Uint8Array, connection: ConnectionInfo): Promise<Outcome> {
    let message: IncomingMessage;
    try {
      message = parseMessage(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    } catch (error) {
      return { close: `unparseable message on connection ${connection.connectionId}: ${(error as Error).message}` };
    }
    if (message.kind === 'unsupported') {
      return { close: `unsupported opCode ${message.opCode} on connection ${connection.connectionId}` };
    }
    const { body, db, sequences } = commandOf(message);
    const reply = await this.execute(body, sequences, { db, ...connection });
    return { reply: encodeResponse(message, reply) };
  }

  private async execute(
    body: Document,
    sequences: Map<string, Document[]>,
    request: ConnectionInfo & { db: string },
  ): Promise<Document> {
    let reply: Document;
    this.sessions.touch(body.lsid);
    try {
      reply = runCommand(body, sequences, {
        ...request,
        catalog: this.catalog,
        cursors: this.cursors,
        sessions: this.sessions,
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

  async close(): Promise<void> {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    await this.journal?.close();
  }
}

/** The command document, its database and its document sequences, for either opcode. */
export function commandOf(message: Exclude<IncomingMessage, { kind: 'unsupported' }>): {
  body: Document;
  db: string;
  sequences: Map<string, Document[]>;
} {
  if (message.kind === 'query') {
    const body =
      message.query.$query && typeof message.query.$query === 'object'
        ? (message.query.$query as Document)
        : message.query;
    return { body, db: message.collection.split('.')[0], sequences: new Map() };
  }
  const db = typeof message.body.$db === 'string' ? message.body.$db : 'admin';
  return { body: message.body, db, sequences: message.sequences };
}
