import type { Document } from 'bson';
import type { Catalog, Collection } from '../catalog.js';
import type { CursorManager } from '../cursors.js';
import type { SessionRegistry } from '../sessions.js';
import { CommandError } from '../errors.js';

/** What a command handler may touch; one per request. */
export interface CommandContext {
  readonly catalog: Catalog;
  readonly cursors: CursorManager;
  readonly sessions: SessionRegistry;
  /** The `$db` of the request. */
  readonly db: string;
  readonly connectionId: number;
  readonly clientAddress: string;
  readonly startedAt: number;
}

export type CommandHandler = (command: Document, context: CommandContext) => Document;

/** The collection name a command targets (the value of its first field). */
export function collectionName(command: Document): string {
  const value = command[Object.keys(command)[0]];
  if (typeof value !== 'string' || value.length === 0) {
    throw new CommandError('InvalidNamespace', `collection name has invalid type ${typeof value}`);
  }
  return value;
}

export function existingCollection(context: CommandContext, command: Document): Collection | undefined {
  return context.catalog.get(context.db, collectionName(command));
}

export function optionalNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number = Number(value);
  if (Number.isNaN(number)) throw new CommandError('TypeMismatch', `expected a number, got ${String(value)}`);
  return number;
}
