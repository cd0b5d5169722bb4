import { Long, ObjectId, type Document } from 'bson';
import { canonicalKey, compareBson } from '../bson-order.js';
import type { Collection } from '../catalog.js';
import { assertCollatableUpdate, parseCollation, type Collation } from '../collation.js';
import { CommandError, toErrorReply } from '../errors.js';
import { assertVariablesDefined, evaluateLet, type QueryScope } from '../mingo-compat.js';
import { isPlainObject, valuesAtPath } from '../paths.js';
import {
  applyPipelineUpdateToAll,
  applyUpdate,
  assertSameId,
  assertStorableId,
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
import { assertKnownStatementFields } from './fields.js';
import { assertHint, matching, shape, sortedMatches } from './query.js';

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
        assertStorableId(docs[i]);
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
    assertKnownStatementFields('update', 'updates', statements);
    const ordered = command.ordered !== false;
    const name = collectionName(command);
    const variables = evaluateLet(command.let, 'update');
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
        const scope = statementScope(statement, 'update.updates', variables);
        if (Array.isArray(update)) assertVariablesDefined(update, scope.variables);
        if (scope.collation) assertCollatableUpdate(update, statement.arrayFilters);
        assertHint(collection, statement.hint);
        const targets = matching(collection, filter, statement.multi === true ? Infinity : 1, scope);
        if (targets.length === 0) {
          if (statement.upsert === true) {
            const doc = buildUpsert(filter, update, arrayFilters, scope.variables);
            context.catalog.ensure(context.db, name).insert(doc);
            n++;
            upserted.push({ index: i, _id: doc._id });
          }
          continue;
        }
        const together =
          Array.isArray(update) && targets.length > 1
            ? applyPipelineUpdateToAll(targets, update, scope.variables)
            : undefined;
        for (let t = 0; t < targets.length; t++) {
          const target = targets[t];
          let outcome: UpdateOutcome;
          if (together) {
            outcome = together[t];
            assertSameId(target, outcome.doc);
          } else outcome = applyUpdate(target, update, filter, arrayFilters, scope.variables);
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
    assertKnownStatementFields('delete', 'deletes', statements);
    const ordered = command.ordered !== false;
    const collection = existingCollection(context, command);
    const variables = evaluateLet(command.let, 'delete');
    const writeErrors: Document[] = [];
    let n = 0;
    for (let i = 0; i < statements.length; i++) {
      try {
        const statement = statements[i];
        const limit = optionalNumber(statement.limit) ?? 0;
        if (limit !== 0 && limit !== 1)
          throw new CommandError('FailedToParse', 'The limit field in delete objects must be 0 or 1');
        assertHint(collection, statement.hint);
        const scope = statementScope(statement, 'delete.deletes', variables);
        for (const doc of matching(collection, statement.q, limit === 1 ? 1 : Infinity, scope)) {
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
  assertUnsupportedFindOptions(command);
  assertHint(collection, command.hint);
  const scope = commandScope(command, 'find');
  const sort = isPlainObject(command.sort) && Object.keys(command.sort).length > 0 ? command.sort : undefined;
  const limit = Math.abs(limitValue);
  // With a limit, the scan can stop after skip + limit matches: in natural order without a
  // sort, in index order when an index fits the sort.
  const inIndexOrder = sort && limit ? sortedMatches(collection, command.filter, sort, skip + limit, scope) : undefined;
  const docs = inIndexOrder ?? matching(collection, command.filter, !sort && limit ? skip + limit : Infinity, scope);
  const results = shape(docs, {
    sort: inIndexOrder ? undefined : sort,
    skip,
    limit,
    projection: command.projection,
    collation: scope.collation,
  });
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
  assertHint(collection, command.hint);
  const scope = commandScope(command, 'findAndModify');
  const variables = scope.variables;
  const sort = isPlainObject(command.sort) && Object.keys(command.sort).length ? command.sort : undefined;
  const [target] = shape(matching(collection, filter, sort ? Infinity : 1, scope), {
    sort,
    limit: 1,
    collation: scope.collation,
  });
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
  if (Array.isArray(update)) assertVariablesDefined(update, variables);
  if (scope.collation) assertCollatableUpdate(update, command.arrayFilters);
  const arrayFilters = Array.isArray(command.arrayFilters) ? (command.arrayFilters as Document[]) : undefined;
  if (target) {
    const outcome = applyUpdate(target, update, filter, arrayFilters, variables);
    if (outcome.modified) (collection as Collection).replace(target, outcome.doc);
    return {
      lastErrorObject: { n: 1, updatedExisting: true },
      value: project(command.new === true ? outcome.doc : target),
      ok: 1,
    };
  }
  if (command.upsert !== true) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  const doc = buildUpsert(filter, update, arrayFilters, variables);
  context.catalog.ensure(context.db, name).insert(doc);
  return {
    lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
    value: project(command.new === true ? doc : null),
    ok: 1,
  };
};

export const count: CommandHandler = (command, context) => {
  const collection = existingCollection(context, command);
  assertHint(collection, command.hint);
  const scope = commandScope(command, 'count');
  const skip = optionalNumber(command.skip) ?? 0;
  const limit = Math.abs(optionalNumber(command.limit) ?? 0);
  const unfiltered = !isPlainObject(command.query) || Object.keys(command.query).length === 0;
  const total = Math.max(
    0,
    (unfiltered ? (collection?.docs.size ?? 0) : matching(collection, command.query, Infinity, scope).length) - skip,
  );
  return { n: limit ? Math.min(limit, total) : total, ok: 1 };
};

export const distinct: CommandHandler = (command, context) => {
  if (typeof command.key !== 'string') throw new CommandError('FailedToParse', "'key' must be a string");
  const scope = commandScope(command, 'distinct');
  const values = new Map<string, unknown>();
  for (const doc of matching(existingCollection(context, command), command.query, Infinity, scope)) {
    for (const value of valuesAtPath(doc, command.key)) {
      if (value !== undefined && !values.has(canonicalKey(value))) values.set(canonicalKey(value), value);
    }
  }
  const distinctValues = scope.collation
    ? firstOfEachCollated([...values.values()], scope.collation)
    : [...values.values()];
  return { values: distinctValues.sort((a, b) => compareBson(a, b, scope.collation?.compareStrings)), ok: 1 };
};

/** A command's `let` and `collation` (`find`, `count`, `distinct`, `findAndModify`). */
function commandScope(command: Document, name: string): QueryScope {
  return {
    variables: evaluateLet(command.let, name),
    collation: parseCollation(command.collation, `${name}.collation`),
  };
}

/**
 * An update or delete statement's collation with its command's `let` (and an update
 * statement's own constants, `c`, which MongoDB binds like `let`).
 */
function statementScope(statement: Document, path: string, variables: Document | undefined): QueryScope {
  const constants = evaluateLet(statement.c, path);
  return {
    variables: constants ? { ...variables, ...constants } : variables,
    collation: parseCollation(statement.collation, `${path}.collation`),
  };
}

/** The values the collation deems distinct, each the first met of its equals (as MongoDB's distinct scan returns them). */
function firstOfEachCollated(values: unknown[], collation: Collation): unknown[] {
  const kept: unknown[] = [];
  for (const value of values) {
    if (!kept.some((other) => compareBson(other, value, collation.compareStrings) === 0)) kept.push(value);
  }
  return kept;
}

/**
 * Find options that change what MongoDB returns and that the store does not implement; refused
 * rather than ignored. (`allowDiskUse`, `noCursorTimeout`, `allowPartialResults`, `readOnce` do
 * not change a standalone server's answer and are accepted.)
 */
function assertUnsupportedFindOptions(command: Document): void {
  for (const option of ['min', 'max', 'returnKey', 'showRecordId', 'tailable', 'awaitData', 'oplogReplay']) {
    const value = command[option] as unknown;
    if (value === undefined || value === false || (isPlainObject(value) && Object.keys(value).length === 0)) continue;
    throw new CommandError('NotImplemented', `the embedded store does not implement find's ${option} option`);
  }
}
