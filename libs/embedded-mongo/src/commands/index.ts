import type { Document } from 'bson';
import { CommandError } from '../errors.js';
import { aggregate } from './aggregate.js';
import type { CommandContext, CommandHandler } from './context.js';
import {
  count,
  deleteCommand,
  distinct,
  find,
  findAndModify,
  getMore,
  insertCommand,
  killCursors,
  updateCommand,
} from './crud.js';
import {
  collStats,
  create,
  createIndexes,
  dbStats,
  drop,
  dropDatabase,
  dropIndexes,
  listCollections,
  listDatabases,
  listIndexes,
  renameCollection,
} from './ddl.js';
import { assertKnownFields } from './fields.js';
import { handshakeCommands } from './handshake.js';

const commands: Record<string, CommandHandler> = {
  ...handshakeCommands,
  find,
  getMore,
  killCursors,
  findAndModify,
  findandmodify: findAndModify,
  count,
  distinct,
  aggregate,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: dropIndexes,
  create,
  drop,
  dropDatabase,
  listCollections,
  listDatabases,
  collStats,
  dbStats,
  renameCollection,
};

/** Names of commands whose reply changes stored data (the server waits for the journal before replying). */
export const WRITE_COMMANDS = new Set([
  'insert',
  'update',
  'delete',
  'findAndModify',
  'findandmodify',
  'aggregate',
  'createIndexes',
  'dropIndexes',
  'deleteIndexes',
  'create',
  'drop',
  'dropDatabase',
  'renameCollection',
]);

/**
 * Runs one command. Write commands get their document-sequence sections (OP_MSG kind 1);
 * fields such as lsid, writeConcern, readConcern or $clusterTime are accepted and ignored.
 */
export function runCommand(body: Document, sequences: Map<string, Document[]>, context: CommandContext): Document {
  const name = Object.keys(body)[0];
  if (name !== undefined) assertKnownFields(name, body);
  switch (name) {
    case 'insert':
      return insertCommand(sequences)(body, context);
    case 'update':
      return updateCommand(sequences)(body, context);
    case 'delete':
      return deleteCommand(sequences)(body, context);
  }
  const handler = name === undefined ? undefined : Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!handler) throw new CommandError('CommandNotFound', `no such command: '${name ?? ''}'`);
  return handler(body, context);
}
