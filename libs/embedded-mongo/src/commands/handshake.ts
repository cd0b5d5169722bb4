import type { Document } from 'bson';
import { CommandError } from '../errors.js';
import type { CommandHandler } from './context.js';

/** A command answered from the connection alone: it needs no catalogue, cursor or journal. */
export type ConnectionCommand = (
  command: Document,
  connection: { connectionId: number; clientAddress: string },
) => Document;

/** The MongoDB version we imitate: 7.0, wire version 21. */
export const SERVER_VERSION = '7.0.0';
export const MAX_WIRE_VERSION = 21;
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_MESSAGE_SIZE = 48_000_000;

/**
 * Standalone on purpose: advertising `setName` makes the driver send `txnNumber` and
 * transaction commands, which this store does not implement. No `topologyVersion` either:
 * with it the driver's monitor switches to streaming (exhaust) hello, which we do not speak.
 */
export const hello: ConnectionCommand = (_command, context) => ({
  helloOk: true,
  ismaster: true,
  isWritablePrimary: true,
  maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
  maxMessageSizeBytes: MAX_MESSAGE_SIZE,
  maxWriteBatchSize: 100_000,
  localTime: new Date(),
  logicalSessionTimeoutMinutes: 30,
  connectionId: context.connectionId,
  minWireVersion: 0,
  maxWireVersion: MAX_WIRE_VERSION,
  readOnly: false,
  ok: 1,
});

export const buildInfo: ConnectionCommand = () => ({
  version: SERVER_VERSION,
  gitVersion: 'embedded-mongo',
  versionArray: [7, 0, 0, 0],
  bits: 64,
  debug: false,
  maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
  storageEngines: ['embedded'],
  modules: [],
  ok: 1,
});

const ok: ConnectionCommand = () => ({ ok: 1 });

/**
 * Everything the driver's monitor and connection handshake send. With the engine in a worker
 * thread these are answered by the listener itself, so a long command never delays a heartbeat.
 */
export const connectionCommands: Record<string, ConnectionCommand> = {
  hello,
  isMaster: hello,
  ismaster: hello,
  ping: ok,
  buildInfo,
  buildinfo: buildInfo,
  killAllSessions: ok,
  refreshSessions: ok,
  getParameter: (command) => ({
    ...(command.featureCompatibilityVersion ? { featureCompatibilityVersion: { version: '7.0' } } : {}),
    ok: 1,
  }),
  getCmdLineOpts: () => ({ argv: ['embedded-mongo'], parsed: {}, ok: 1 }),
  hostInfo: () => ({
    system: { currentTime: new Date(), hostname: 'localhost', numCores: 1, memSizeMB: 0 },
    os: { type: process.platform },
    extra: {},
    ok: 1,
  }),
  whatsmyuri: (_command, context) => ({ you: context.clientAddress, ok: 1 }),
  connectionStatus: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
  saslStart: () => {
    throw new CommandError(
      'Unauthorized',
      'Authentication is not supported by the embedded store; connect without credentials',
    );
  },
  authenticate: () => {
    throw new CommandError(
      'Unauthorized',
      'Authentication is not supported by the embedded store; connect without credentials',
    );
  },
};

export const handshakeCommands: Record<string, CommandHandler> = {
  ...connectionCommands,
  // Answered by the engine, not the listener: it ends sessions `$listLocalSessions` would list.
  endSessions: (command, context) => {
    context.sessions.end(command.endSessions);
    return { ok: 1 };
  },
  serverStatus: (_command, context) => ({
    host: 'localhost',
    version: SERVER_VERSION,
    process: 'embedded-mongo',
    pid: process.pid,
    uptime: Math.floor((Date.now() - context.startedAt) / 1000),
    uptimeMillis: Date.now() - context.startedAt,
    localTime: new Date(),
    connections: { current: 1 },
    metrics: { cursor: { open: { total: context.cursors.openCount } } },
    ok: 1,
  }),
  commitTransaction: () => {
    throw new CommandError(
      'IllegalOperation',
      'Transaction numbers are only allowed on a replica set member or mongos',
    );
  },
  abortTransaction: () => {
    throw new CommandError(
      'IllegalOperation',
      'Transaction numbers are only allowed on a replica set member or mongos',
    );
  },
} satisfies Record<string, CommandHandler>;
