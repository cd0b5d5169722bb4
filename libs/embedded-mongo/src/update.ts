import { ObjectId, type Document } from 'bson';
import * as updateOperators from 'mingo/operators/update';
import { update as mingoUpdate } from 'mingo/updater';
import { canonicalKey } from './bson-order.js';
import { CommandError } from './errors.js';
import { engineOptions, normalize, rewritePipeline, runPipeline } from './mingo-compat.js';
import { cloneDocument, isPlainObject, setPath } from './paths.js';

/**
 * Applies MongoDB update documents with mingo, filling its gaps: $setOnInsert, upserted
 * document construction, replacement updates and `_id` immutability.
 */

export type UpdateSpec = Document | Document[];

export interface UpdateOutcome {
  doc: Document;
  modified: boolean;
}

export function isOperatorUpdate(update: UpdateSpec): update is Document {
  return !Array.isArray(update) && Object.keys(update).some((key) => key.startsWith('$'));
}

export function validateUpdate(update: unknown): UpdateSpec {
  if (Array.isArray(update)) return update as Document[];
  if (!isPlainObject(update))
    throw new CommandError('FailedToParse', 'Update argument must be either an object or an array');
  const keys = Object.keys(update);
  const operators = keys.filter((key) => key.startsWith('$'));
  if (operators.length > 0 && operators.length !== keys.length) {
    throw new CommandError(
      'FailedToParse',
      `Unknown modifier: ${keys.find((key) => !key.startsWith('$'))}. Expected a valid update modifier or pipeline-style update specified as an array`,
    );
  }
  return update;
}

export function assertSameId(before: Document, after: Document): void {
  if (canonicalKey(before._id) !== canonicalKey(after._id)) {
    throw new CommandError(
      'ImmutableField',
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
}

function withIdFirst(doc: Document): Document {
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

/** mingo rejects $setOnInsert: drop it for updates, fold it into $set for inserts. */
function modifierFor(update: Document, inserting: boolean): Document {
  const { $setOnInsert, ...rest } = update;
  if (inserting && isPlainObject($setOnInsert))
    rest.$set = { ...(isPlainObject(rest.$set) ? rest.$set : {}), ...$setOnInsert };
  return normalize(rest);
}

function applyOperators(
  target: Document,
  update: Document,
  arrayFilters: Document[] | undefined,
  condition: Document | undefined,
  inserting: boolean,
): boolean {
  const modifier = modifierFor(update, inserting);
  if (Object.keys(modifier).length === 0) return false;
  // The query engine is only needed to resolve a positional `$` (against the filter) or
  // `$[<id>]` (against arrayFilters). Without either, mingo's stock update operators need no
  // context of ours, and building one per document cost ~15% of the store's CPU under ingest.
  const positional = usesPositionalOperator(modifier);
  const needsEngine = positional || arrayFilters !== undefined;
  const operators = Object.keys(modifier);
  const single = operators.length === 1 ? singleOperator(operators[0]) : undefined;
  if (single && !needsEngine) {
    // One operator (the usual `$set`): mingo's own operator function, without the operator
    // context `update()` assembles on every call (an eighth of a bulk upsert's CPU). With
    // several operators `update()` also checks them for conflicting paths, so they go there.
    // The expression is copied per document: the operator shares the values it sets.
    return single(cloneDocument(modifier[operators[0]]) as Document)(target).length > 0;
  }
  const changed = mingoUpdate(
    target,
    modifier,
    arrayFilters ? normalize(arrayFilters) : undefined,
    positional && condition ? normalize(condition) : undefined,
    {
      cloneMode: 'deep',
      ...(needsEngine ? { queryOptions: engineOptions() } : {}),
    },
  );
  return changed.length > 0;
}

type UpdateOperator = (expr: Document) => (doc: Document) => string[];

function singleOperator(name: string): UpdateOperator | undefined {
  return Object.hasOwn(updateOperators, name)
    ? (updateOperators[name as keyof typeof updateOperators] as unknown as UpdateOperator)
    : undefined;
}

/** Whether any updated path has a bare positional segment (`items.$.qty`). */
function usesPositionalOperator(modifier: Document): boolean {
  return Object.values(modifier).some(
    (fields) => isPlainObject(fields) && Object.keys(fields).some((path) => path.split('.').includes('$')),
  );
}

/** Produces the updated copy of a stored document; the stored object itself is never mutated. */
export function applyUpdate(
  stored: Document,
  update: UpdateSpec,
  filter: Document,
  arrayFilters?: Document[],
): UpdateOutcome {
  if (Array.isArray(update)) {
    const [result] = runPipeline([cloneDocument(stored)], rewritePipeline(update));
    assertSameId(stored, result);
    return { doc: result, modified: canonicalKey(result) !== canonicalKey(stored) };
  }
  if (!isOperatorUpdate(update)) {
    const replacement: Document = cloneDocument(update as Document);
    if ('_id' in replacement) assertSameId(stored, replacement);
    const doc = { ...replacement, _id: stored._id };
    return { doc: withIdFirst(doc), modified: canonicalKey(withIdFirst(doc)) !== canonicalKey(stored) };
  }
  const copy = cloneDocument(stored);
  const modified = applyOperators(copy, update, arrayFilters, filter, false);
  assertSameId(stored, copy);
  return { doc: copy, modified };
}

/** The stages MongoDB allows in a pipeline update: each maps one document to one document. */
const PIPELINE_UPDATE_STAGES = new Set(['$set', '$addFields', '$project', '$unset', '$replaceRoot', '$replaceWith']);

/**
 * `applyUpdate` of one update pipeline for many documents, run as one mingo pipeline over all
 * of them instead of one pipeline per document (mingo builds its operator context for each).
 * Undefined when that cannot give the per-document results (a stage outside the update set,
 * or an error: the caller then updates document by document, stopping where MongoDB would).
 */
export function applyPipelineUpdateToAll(stored: Document[], update: Document[]): UpdateOutcome[] | undefined {
  if (!update.every((stage) => isPlainObject(stage) && PIPELINE_UPDATE_STAGES.has(Object.keys(stage)[0])))
    return undefined;
  let results: Document[];
  try {
    results = runPipeline(stored.map(cloneDocument), rewritePipeline(update));
  } catch {
    return undefined;
  }
  if (results.length !== stored.length) return undefined;
  return results.map((doc, i) => ({ doc, modified: canonicalKey(doc) !== canonicalKey(stored[i]) }));
}

/** Equality fields of a query, which MongoDB copies into an upserted document. */
function equalityFields(filter: Document, into: Document): void {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const clause of value) if (isPlainObject(clause)) equalityFields(clause, into);
      continue;
    }
    if (key.startsWith('$')) continue;
    const operators = isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'));
    if (!operators) setPath(into, key, cloneDocument(value));
    else if (isPlainObject(value) && '$eq' in value) setPath(into, key, cloneDocument(value.$eq));
  }
}

export function buildUpsert(filter: Document, update: UpdateSpec, arrayFilters?: Document[]): Document {
  const base: Document = {};
  equalityFields(filter, base);
  let doc: Document;
  if (Array.isArray(update)) {
    [doc] = runPipeline([base], rewritePipeline(update));
  } else if (!isOperatorUpdate(update)) {
    doc = cloneDocument(update);
    if (!('_id' in doc) && '_id' in base) doc._id = base._id;
  } else {
    doc = base;
    applyOperators(doc, update, arrayFilters, undefined, true);
    if ('_id' in base && '_id' in doc) assertSameId(base, doc);
  }
  if (doc._id === undefined) doc._id = new ObjectId();
  return withIdFirst(doc);
}
