import { Long, ObjectId, type Document } from 'bson';
import type { Catalog, Collection } from '../catalog.js';
import { CommandError } from '../errors.js';
import { Aggregator } from 'mingo/aggregator';
import { parseCollation, type Collation } from '../collation.js';
import {
  assertVariablesDefined,
  compileFilter,
  engineOptions,
  evaluateLet,
  normalize,
  rewritePipeline,
  runPipeline,
  type QueryScope,
} from '../mingo-compat.js';
import { plainUnwindField, runStages } from '../pipeline-runner.js';
import { cloneDocument, isPlainObject } from '../paths.js';
import { sortDocuments } from '../sort.js';
import { optionalNumber, type CommandHandler, type CommandContext } from './context.js';
import { assertHint, matching } from './query.js';

/**
 * Stages that never modify their input documents in mingo 7.2 (they filter, reorder or build
 * new documents), and the plain `$unwind` the pipeline runner does itself (`isReadOnly`). These
 * may read stored documents without copying them; anything else ($addFields, $lookup, mingo's
 * `$unwind` with options, …) may mutate, so what reaches the first such stage is copied.
 */
const NON_MUTATING_STAGES = new Set([
  '$match',
  '$sort',
  '$skip',
  '$limit',
  '$group',
  '$count',
  '$sortByCount',
  '$bucket',
  '$project',
]);

/** `$out`/`$merge` target: a collection name or `{ db, coll }`. */
function target(spec: unknown, context: CommandContext): [string, string] {
  if (typeof spec === 'string') return [context.db, spec];
  if (isPlainObject(spec) && typeof spec.coll === 'string')
    return [typeof spec.db === 'string' ? spec.db : context.db, spec.coll];
  throw new CommandError('FailedToParse', 'invalid $out/$merge target');
}

function withId(doc: Document): Document {
  return doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc;
}

/** `$out`: replaces the target's documents (its indexes stay), as MongoDB's rename-over does. */
function writeOut(catalog: Catalog, [db, name]: [string, string], docs: Document[]): void {
  const collection = catalog.ensure(db, name);
  for (const doc of [...collection.docs.values()]) collection.remove(doc);
  for (const doc of docs) collection.insert(withId(doc));
}

function writeMerge(
  catalog: Catalog,
  spec: Document,
  docs: Document[],
  context: CommandContext,
  commandVariables: Document | undefined,
): void {
  const collection: Collection = catalog.ensure(...target(spec.into, context));
  const on = spec.on === undefined ? ['_id'] : Array.isArray(spec.on) ? (spec.on as string[]) : [String(spec.on)];
  const whenMatched = spec.whenMatched ?? 'merge';
  const whenNotMatched = spec.whenNotMatched ?? 'insert';
  // The usual `on: _id` is a primary-key lookup; compiling a filter per merged document cost
  // more than the merge itself.
  const byId = on.length === 1 && on[0] === '_id';
  for (const doc of docs) {
    let existing: Document | undefined;
    if (byId) existing = doc._id === undefined ? undefined : collection.get(doc._id);
    else if (on.every((field) => doc[field] !== undefined)) {
      const filter: Document = {};
      for (const field of on) filter[field] = doc[field];
      [existing] = matching(collection, filter, 1);
    }
    if (!existing) {
      if (whenNotMatched === 'insert') collection.insert(withId(doc));
      else if (whenNotMatched === 'fail') {
        throw new CommandError(
          'BadValue',
          '$merge could not find a matching document in the target collection for at least one document in the source collection',
        );
      }
      continue;
    }
    if (whenMatched === 'keepExisting') continue;
    if (whenMatched === 'fail') throw collection.indexes.get('_id_')!.duplicateError(collection.ns, [existing._id]);
    let next: Document;
    if (whenMatched === 'replace') next = { ...doc, _id: existing._id };
    else if (whenMatched === 'merge') next = { ...cloneDocument(existing), ...doc, _id: existing._id };
    else if (Array.isArray(whenMatched)) {
      const variables = { ...commandVariables, new: doc, ...(isPlainObject(spec.let) ? spec.let : {}) };
      [next] = new Aggregator(rewritePipeline(whenMatched as Document[]), { ...engineOptions(), variables }).run([
        cloneDocument(existing),
      ]) as Document[];
    } else throw new CommandError('BadValue', `unsupported whenMatched mode: ${String(whenMatched)}`);
    collection.replace(existing, next);
  }
}

/**
 * Runs the stages over stored documents, copying only what reaches the first stage that may
 * change its input: a `$match`/`$project`/`$group` in front has then cut the documents down to
 * the few fields and rows the rest needs (a rollup's `$project` before its `$unwind` made copying
 * whole hits a quarter of the store's time at 10^6 hits). Copies are deep, so a nested object a
 * `$project` passed through by reference is copied too.
 */
function runCopyingBeforeMutation(
  source: Document[],
  stages: Document[],
  collections: (name: string) => Collection | undefined,
  variables: Document | undefined,
): Document[] {
  const isReadOnly = (stage: Document): boolean =>
    NON_MUTATING_STAGES.has(Object.keys(stage)[0]) || plainUnwindField(stage) !== undefined;
  const firstMutating = stages.findIndex((stage) => !isReadOnly(stage));
  if (firstMutating === -1) return stages.length ? runStages(source, stages, collections, variables) : source;
  const reading =
    firstMutating > 0 ? runStages(source, stages.slice(0, firstMutating), collections, variables) : source;
  return runStages(reading.map(cloneDocument), stages.slice(firstMutating), collections, variables);
}

/**
 * A pipeline under a collation: the stages whose result the collation can change are run here
 * with it (`$match` by the collated filter, `$sort` in collation order); stages that only
 * reshape or count are safe. Any other stage (`$group` keys, `$lookup` matches, expressions
 * comparing strings, …) would compare binary, so it is refused rather than run differently.
 */
function runCollated(source: Document[], stages: Document[], scope: QueryScope & { collation: Collation }): Document[] {
  let docs = source;
  for (const stage of stages) {
    const [name] = Object.keys(stage);
    const spec = stage[name] as unknown;
    if (name === '$match') docs = filterCollated(docs, spec, scope);
    else if (name === '$sort' && isPlainObject(spec)) docs = sortDocuments(docs, spec, scope.collation.compareStrings);
    else if (
      name === '$skip' ||
      name === '$limit' ||
      name === '$count' ||
      isFieldSelection(name, spec) ||
      isConstantCount(name, spec)
    )
      docs = runPipeline(docs.map(cloneDocument), rewritePipeline([stage]), undefined, scope.variables);
    else throw new CommandError('NotImplemented', `the embedded store does not implement ${name} under a collation`);
  }
  return docs;
}

function filterCollated(docs: Document[], spec: unknown, scope: QueryScope): Document[] {
  const query = compileFilter(isPlainObject(spec) ? spec : {}, scope);
  return docs.filter((doc) => query.test(doc));
}

/**
 * `$group` into one constant key summing constants (`countDocuments` sends
 * `{ _id: 1, n: { $sum: 1 } }`): nothing is compared, so the collation cannot matter.
 */
function isConstantCount(name: string, spec: unknown): boolean {
  if (name !== '$group' || !isPlainObject(spec)) return false;
  const constant = (value: unknown): boolean => value === null || typeof value === 'number';
  return Object.entries(spec).every(([field, value]) =>
    field === '_id'
      ? constant(value)
      : isPlainObject(value) && Object.keys(value).join() === '$sum' && constant(value.$sum),
  );
}

/** `$project`/`$unset` that only keep or drop fields: no comparison, so no collation. */
function isFieldSelection(name: string, spec: unknown): boolean {
  if (name === '$unset') return true;
  return (
    name === '$project' &&
    isPlainObject(spec) &&
    Object.values(spec).every((value) => typeof value === 'boolean' || value === 0 || value === 1)
  );
}

/**
 * `$listLocalSessions`: the sessions this server has seen in the last 30 minutes (MongoDB's
 * `logicalSessionTimeoutMinutes`), as its in-memory session cache lists them. Without
 * authentication every session belongs to the same (nameless) user.
 */
function localSessions(spec: unknown, context: CommandContext): Document[] {
  if (!isPlainObject(spec)) throw new CommandError('FailedToParse', '$listLocalSessions options must be a document');
  if (Array.isArray(spec.users) && spec.users.length > 0)
    throw new CommandError('NotImplemented', 'the embedded store has no users to list the sessions of');
  return context.sessions.list();
}

export const aggregate: CommandHandler = (command, context) => {
  if (!Array.isArray(command.pipeline))
    throw new CommandError('TypeMismatch', "'pipeline' option must be specified as an array");
  if (!isPlainObject(command.cursor) && command.explain !== true) {
    throw new CommandError(
      'FailedToParse',
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  }
  const stages = command.pipeline as Document[];
  const variables = evaluateLet(command.let, 'aggregate');
  assertVariablesDefined(stages, variables);
  const collation = parseCollation(command.collation, 'aggregate.collation');
  const last = stages[stages.length - 1];
  const writeStage = last && ('$out' in last || '$merge' in last) ? last : undefined;
  let pipeline = writeStage ? stages.slice(0, -1) : stages;
  for (const stage of pipeline) {
    const name = Object.keys(stage)[0];
    if (name === '$out' || name === '$merge')
      throw new CommandError('BadValue', `${name} can only be the final stage in the pipeline`);
    if (name === '$changeStream')
      throw new CommandError('IllegalOperation', '$changeStream stage is only supported on replica sets');
  }
  const collectionNameValue = command.aggregate;
  const collection =
    typeof collectionNameValue === 'string' ? context.catalog.get(context.db, collectionNameValue) : undefined;
  assertHint(collection, command.hint);
  if (collation && writeStage && '$merge' in writeStage)
    throw new CommandError('NotImplemented', 'the embedded store does not implement $merge under a collation');
  if (command.explain === true) {
    return {
      explainVersion: '1',
      stages: pipeline,
      queryPlanner: { namespace: `${context.db}.${String(collectionNameValue)}` },
      ok: 1,
    };
  }
  // A leading $match is answered from the indexes; mingo then sees only the candidates.
  let source: Document[];
  if (pipeline.length > 0 && '$listLocalSessions' in pipeline[0]) {
    source = localSessions(pipeline[0].$listLocalSessions, context);
    pipeline = pipeline.slice(1);
  } else if (pipeline.length > 0 && isPlainObject(pipeline[0].$match)) {
    source = matching(collection, normalize(pipeline[0].$match), Infinity, { variables, collation });
    pipeline = pipeline.slice(1);
  } else {
    source = matching(collection, {});
  }
  const collections = (name: string): Collection | undefined => context.catalog.get(context.db, name);
  const results = collation
    ? runCollated(source, pipeline, { variables, collation })
    : runCopyingBeforeMutation(source, rewritePipeline(pipeline), collections, variables);
  if (writeStage) {
    if ('$out' in writeStage) writeOut(context.catalog, target(writeStage.$out, context), results);
    else
      writeMerge(
        context.catalog,
        isPlainObject(writeStage.$merge) ? writeStage.$merge : { into: writeStage.$merge },
        results,
        context,
        variables,
      );
    return { cursor: { firstBatch: [], id: Long.ZERO, ns: `${context.db}.${String(collectionNameValue)}` }, ok: 1 };
  }
  const batchSize = isPlainObject(command.cursor) ? optionalNumber(command.cursor.batchSize) : undefined;
  const ns = `${context.db}.${typeof collectionNameValue === 'string' ? collectionNameValue : '$cmd.aggregate'}`;
  const batch = context.cursors.open(ns, results, batchSize);
  return { cursor: { firstBatch: batch.docs, id: batch.id, ns }, ok: 1 };
};
