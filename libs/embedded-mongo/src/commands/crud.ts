import { Long, ObjectId, type Document } from 'bson';
import { canonicalKey, compareBson } from '../bson-order.js';
import type { Collection } from '../catalog.js';
import { CommandError, toErrorReply } from '../errors.js';
import { isPlainObject, valuesAtPath } from '../paths.js';
import {
  applyPipelineUpdateToAll,
  applyUpdate,
  assertSameId,
  buildUpsert,
  validateUpdate,
  type UpdateOutcome,
} from '../update.js';
import {
  collectionName,
  existingCollection,
  optionalNumber,
  type CommandContext,
  type CommandHandler,
} from './context.js';
import { matching, shape, sortedMatches } from './query.js';

/** Documents of a write command: in the body or, as drivers usually send them, in a document sequence. */
export function payload(command: Document, field: string, sequences: Map<string, Document[]>): Document[] {
  const inBody = command[field];
  if (Array.isArray(inBody)) return inBody as Document[];
  return sequences.get(field) ?? [];
}

/** A write error entry as MongoDB reports it inside `writeErrors`. */
function writeError(index: number, error: unknown): Document {
  const { ok: _ok, codeName: _codeName, ...reply } = toErrorReply(error);
  return { index, code: reply.code, ...reply };
}

function withId(doc: Document): Document {
  if (doc._id !== undefined) return doc;
  return { _id: new ObjectId(), ...doc };
}

function assertNoTransaction(command: Document): void {
  if (command.startTransaction === true || command.autocommit === false) {
    throw new CommandError(
      'IllegalOperation',
      'Transaction numbers are only allowed on a replica set member or mongos',
    );
  }
}

export function insertCommand(sequences: Map<string, Document[]>): CommandHandler {
  return (command, context) => {
    assertNoTransaction(command);
    const docs = payload(command, 'documents', sequences);
    const ordered = command.ordered !== false;
    const collection = context.catalog.ensure(context.db, collectionName(command));
    const writeErrors: Document[] = [];
    let n = 0;
    for (let i = 0; i < docs.length; i++) {
      try {
        if (!isPlainObject(docs[i])) throw new CommandError('BadValue', 'document must be an object');
        collection.insert(withId(docs[i]));
        n++;
      } catch (error) {
        writeErrors.push(writeError(i, error));
        if (ordered) break;
      }
    }
    return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
  };
}

export function updateCommand(sequences: Map<string, Document[]>): CommandHandler {
  return (command, context) => {
    assertNoTransaction(command);
    const statements = payload(command, 'updates', sequences);
    const ordered = command.ordered !== false;
    const name = collectionName(command);
    const writeErrors: Document[] = [];
    const upserted: Document[] = [];
    let n = 0;
    let nModified = 0;
    for (let i = 0; i < statements.length; i++) {
      try {
        const statement = statements[i];
        const filter = isPlainObject(statement.q) ? statement.q : {};
        const update = validateUpdate(statement.u);
        const arrayFilters = Array.isArray(statement.arrayFilters) ? (statement.arrayFilters as Document[]) : undefined;
        const collection = context.catalog.get(context.db, name);
        let targets = matching(collection, filter, statement.multi === true || statement.sort ? Infinity : 1);
        if (statement.multi !== true && isPlainObject(statement.sort))
          targets = shape(targets, { sort: statement.sort, limit: 1 });
        if (targets.length === 0) {
          if (statement.upsert === true) {
            const doc = buildUpsert(filter, update, arrayFilters);
            context.catalog.ensure(context.db, name).insert(doc);
            n++;
            upserted.push({ index: i, _id: doc._id });
          }
          continue;
        }
        const together =
          Array.isArray(update) && targets.length > 1 ? applyPipelineUpdateToAll(targets, update) : undefined;
        for (let t = 0; t < targets.length; t++) {
          const target = targets[t];
          let outcome: UpdateOutcome;
          if (together) {
            outcome = together[t];
            assertSameId(target, outcome.doc);
          } else outcome = applyUpdate(target, update, filter, arrayFilters);
          if (outcome.modified) {
            (collection as Collection).replace(target, outcome.doc);
            nModified++;
          }
          n++;
        }
      } catch (error) {
        writeErrors.push(writeError(i, error));
        if (ordered) break;
      }
    }
    const reply: Document = { n, nModified };
    if (upserted.length) reply.upserted = upserted;
    if (writeErrors.length) reply.writeErrors = writeErrors;
    return { ...reply, ok: 1 };
  };
}

export function deleteCommand(sequences: Map<string, Document[]>): CommandHandler {
  return (command, context) => {
    assertNoTransaction(command);
    const statements = payload(command, 'deletes', sequences);
    const ordered = command.ordered !== false;
    const collection = existingCollection(context, command);
    const writeErrors: Document[] = [];
    let n = 0;
    for (let i = 0; i < statements.length; i++) {
      try {
        const statement = statements[i];
        const limit = optionalNumber(statement.limit) ?? 0;
        if (limit !== 0 && limit !== 1)
          throw new CommandError('FailedToParse', 'The limit field in delete objects must be 0 or 1');
        for (const doc of matching(collection, statement.q, limit === 1 ? 1 : Infinity)) {
          (collection as Collection).remove(doc);
          n++;
        }
      } catch (error) {
        writeErrors.push(writeError(i, error));
        if (ordered) break;
      }
    }
    return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
  };
}

function cursorReply(
  context: CommandContext,
  ns: string,
  docs: Document[],
  batchSize: number | undefined,
  singleBatch: boolean,
): Document {
  const batch = context.cursors.open(ns, docs, batchSize, singleBatch);
  return { cursor: { firstBatch: batch.docs, id: batch.id, ns }, ok: 1 };
}

export const find: CommandHandler = (command, context) => {
  const name = collectionName(command);
  const limitValue = optionalNumber(command.limit) ?? 0;
  const skip = optionalNumber(command.skip) ?? 0;
  if (skip < 0) throw new CommandError('BadValue', 'skip value must be non-negative');
  const collection = context.catalog.get(context.db, name);
  const sort = isPlainObject(command.sort) && Object.keys(command.sort).length > 0 ? command.sort : undefined;
  const limit = Math.abs(limitValue);
  // With a limit, the scan can stop after skip + limit matches: in natural order without a
  // sort, in index order when an index fits the sort.
  const inIndexOrder = sort && limit ? sortedMatches(collection, command.filter, sort, skip + limit) : undefined;
  const docs = inIndexOrder ?? matching(collection, command.filter, !sort && limit ? skip + limit : Infinity);
  const results = shape(docs, { sort: inIndexOrder ? undefined : sort, skip, limit, projection: command.projection });
  const singleBatch = command.singleBatch === true || limitValue < 0;
  const batchSize = optionalNumber(command.batchSize);
  return cursorReply(
    context,
    `${context.db}.${name}`,
    results,
    limit && (batchSize === undefined || batchSize > limit) ? limit : batchSize,
    singleBatch,
  );
};

export const getMore: CommandHandler = (command, context) => {
  const raw = command.getMore as unknown;
  const id = raw instanceof Long ? raw.toBigInt() : BigInt(Number(raw));
  const ns = `${context.db}.${String(command.collection)}`;
  const batch = context.cursors.getMore(id, ns, optionalNumber(command.batchSize));
  return { cursor: { nextBatch: batch.docs, id: batch.id, ns }, ok: 1 };
};

export const killCursors: CommandHandler = (command, context) => {
  const ids = (Array.isArray(command.cursors) ? command.cursors : []).map((id: unknown) =>
    id instanceof Long ? id.toBigInt() : BigInt(Number(id)),
  );
  const { killed, notFound } = context.cursors.kill(ids);
  return {
    cursorsKilled: killed.map((id) => Long.fromBigInt(id)),
    cursorsNotFound: notFound.map((id) => Long.fromBigInt(id)),
    cursorsAlive: [],
    cursorsUnknown: [],
    ok: 1,
  };
};

export const findAndModify: CommandHandler = (command, context) => {
  assertNoTransaction(command);
  const name = collectionName(command);
  const filter = isPlainObject(command.query) ? command.query : {};
  const collection = context.catalog.get(context.db, name);
  const sort = isPlainObject(command.sort) && Object.keys(command.sort).length ? command.sort : undefined;
  const [target] = shape(matching(collection, filter, sort ? Infinity : 1), { sort, limit: 1 });
  const project = (doc: Document | null): Document | null =>
    doc && isPlainObject(command.fields) && Object.keys(command.fields).length
      ? shape([doc], { projection: command.fields })[0]
      : doc;
  if (command.remove === true) {
    if (target) (collection as Collection).remove(target);
    return { lastErrorObject: { n: target ? 1 : 0 }, value: project(target ?? null), ok: 1 };
  }
  if (command.update === undefined)
    throw new CommandError('FailedToParse', 'Either an update or remove=true must be specified');
  const update = validateUpdate(command.update);
  const arrayFilters = Array.isArray(command.arrayFilters) ? (command.arrayFilters as Document[]) : undefined;
  if (target) {
    const outcome = applyUpdate(target, update, filter, arrayFilters);
    if (outcome.modified) (collection as Collection).replace(target, outcome.doc);
    return {
      lastErrorObject: { n: 1, updatedExisting: true },
      value: project(command.new === true ? outcome.doc : target),
      ok: 1,
    };
  }
  if (command.upsert !== true) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  const doc = buildUpsert(filter, update, arrayFilters);
  context.catalog.ensure(context.db, name).insert(doc);
  return {
    lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
    value: project(command.new === true ? doc : null),
    ok: 1,
  };
};

export const count: CommandHandler = (command, context) => {
  const collection = existingCollection(context, command);
  const skip = optionalNumber(command.skip) ?? 0;
  const limit = Math.abs(optionalNumber(command.limit) ?? 0);
  const unfiltered = !isPlainObject(command.query) || Object.keys(command.query).length === 0;
  const total = Math.max(
    0,
    (unfiltered ? (collection?.docs.size ?? 0) : matching(collection, command.query).length) - skip,
  );
  return { n: limit ? Math.min(limit, total) : total, ok: 1 };
};

export const distinct: CommandHandler = (command, context) => {
  if (typeof command.key !== 'string') throw new CommandError('FailedToParse', "'key' must be a string");
  const values = new Map<string, unknown>();
  for (const doc of matching(existingCollection(context, command), command.query)) {
    for (const value of valuesAtPath(doc, command.key)) {
      if (value !== undefined) values.set(canonicalKey(value), value);
    }
  }
  return { values: [...values.values()].sort(compareBson), ok: 1 };
};
