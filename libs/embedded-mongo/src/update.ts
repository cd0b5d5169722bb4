import { ObjectId, type Document } from 'bson';
import * as updateOperators from 'mingo/operators/update';
import { update as mingoUpdate } from 'mingo/updater';
import { compare, isEqual, isNumber } from 'mingo/util';
import { sameCanonicalKey } from './bson-order.js';
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
  if (!sameCanonicalKey(before._id, after._id)) {
    throw new CommandError(
      'ImmutableField',
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
}

function dollarPrefixedKey(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const element of value) {
      const found = dollarPrefixedKey(element);
      if (found) return found;
    }
    return undefined;
  }
  if (!isPlainObject(value)) return undefined;
  const keys = Object.keys(value);
  // A DBRef ($ref, $id and an optional $db, in that order) is the one allowed `$` shape.
  let first = 0;
  if (keys[0] === '$ref' && typeof value.$ref === 'string' && keys[1] === '$id') {
    first = keys[2] === '$db' && typeof value.$db === 'string' ? 3 : 2;
  }
  for (let i = 0; i < keys.length; i++) {
    if (i >= first && keys[i].startsWith('$')) return keys[i];
    const found = dollarPrefixedKey(value[keys[i]]);
    if (found) return found;
  }
  return undefined;
}

/**
 * What MongoDB refuses to store as `_id` (storage validation): an array, a regular expression
 * or undefined (53 InvalidIdField), and a document with a `$`-prefixed key at any depth (52).
 */
export function assertStorableId(doc: Document): void {
  const id = doc._id as unknown;
  if (id === undefined) {
    if ('_id' in doc) throw new CommandError('InvalidIdField', "The '_id' value cannot be of type undefined");
    return;
  }
  if (Array.isArray(id)) throw new CommandError('InvalidIdField', "The '_id' value cannot be of type array");
  const tag = (id as { _bsontype?: string } | null)?._bsontype;
  if (id instanceof RegExp || tag === 'BSONRegExp')
    throw new CommandError('InvalidIdField', "The '_id' value cannot be of type regex");
  const dollar = dollarPrefixedKey(id);
  if (dollar) {
    throw new CommandError(
      'DollarPrefixedFieldName',
      `_id fields may not contain '$'-prefixed fields: ${dollar} is not valid for storage.`,
    );
  }
}

function withIdFirst(doc: Document): Document {
  // Upserted documents mostly have it first already (from the filter): no two copies then.
  for (const name in doc) {
    if (name === '_id') return doc;
    break;
  }
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

/**
 * Applies an operator update to `source` (when `copy`, to a copy of it, leaving it untouched) and
 * returns the result with whether anything changed.
 */
function applyOperators(
  source: Document,
  copy: boolean,
  update: Document,
  arrayFilters: Document[] | undefined,
  condition: Document | undefined,
  inserting: boolean,
): { doc: Document; changed: boolean } {
  const topLevel = arrayFilters === undefined ? topLevelOperators(update, inserting) : undefined;
  if (topLevel) {
    // Top-level fields only (the derived rows' `$inc`/`$set`/`$min`/`$max` upserts): mingo's
    // operator bodies applied here, without the per-document path parsing and walking around
    // them (a quarter of the store's CPU under ingest), nor the normalised copy of the whole
    // update and the checks the general path below makes. These only assign, or delete, fields
    // of the document itself, so a shallow copy keeps the stored version intact (a stored
    // document is never changed in place: a cursor or another version may hold it): the new
    // version shares the untouched values, and the indexes can tell by identity which of their
    // fields an update left alone (`Collection.replace`).
    const target = copy ? { ...source } : source;
    let changed = false;
    for (const [name, fields] of topLevel) if (applyTopLevel(name, fields, target)) changed = true;
    return { doc: target, changed };
  }
  const modifier = modifierFor(update, inserting);
  if (Object.keys(modifier).length === 0) return { doc: copy ? cloneDocument(source) : source, changed: false };
  // The query engine is only needed to resolve a positional `$` (against the filter) or
  // `$[<id>]` (against arrayFilters). Without either, mingo's stock update operators need no
  // context of ours, and building one per document cost ~15% of the store's CPU under ingest.
  const positional = usesPositionalOperator(modifier);
  const needsEngine = positional || arrayFilters !== undefined;
  const operators = Object.keys(modifier);
  const direct = needsEngine ? undefined : directOperators(modifier, operators);
  const target = copy ? cloneDocument(source) : source;
  if (direct) {
    // mingo's own operator functions, without the operator context `update()` assembles on
    // every call (its context copying was a third of a bulk upsert's CPU). `directOperators`
    // only accepts updates `update()` would run without any check failing, and the functions
    // are created, then applied, in the same order. The expressions are copied per document:
    // an operator shares the values it sets.
    const mutations = operators.map((name, i) => direct[i](cloneDocument(modifier[name]) as Document));
    let changed = false;
    for (const mutate of mutations) if (mutate(target).length > 0) changed = true;
    return { doc: target, changed };
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
  return { doc: target, changed: changed.length > 0 };
}

type UpdateOperator = (expr: Document) => (doc: Document) => string[];

/** The operators `applyTopLevel` applies itself. */
const TOP_LEVEL_OPERATORS = new Set(['$set', '$inc', '$min', '$max', '$unset']);

/**
 * The operators of `update` as the general path would apply them (`modifierFor`: `$setOnInsert`
 * dropped, or merged into `$set` when inserting, in the same order), when they are all ones
 * `applyTopLevel` applies exactly as mingo would: known operators whose fields are top-level
 * names that mingo's path checks accept (no `.`, `$`, `_id`, `__proto__` or empty name), no
 * name under two operators (mingo's conflict error), and for `$inc` numeric amounts (mingo
 * refuses others when it builds the operator). Undefined otherwise: the general path then runs,
 * raising any error as before. Values are left as sent; `applyTopLevel` normalises each.
 */
function topLevelOperators(update: Document, inserting: boolean): Array<[string, Document]> | undefined {
  const operators: Array<[string, Document]> = [];
  const onInsert = update.$setOnInsert as unknown;
  if (inserting && onInsert !== undefined && !isPlainObject(onInsert)) return undefined;
  const mergeOnInsert = inserting && onInsert !== undefined;
  for (const name of Object.keys(update)) {
    if (name === '$setOnInsert') continue;
    let fields = update[name] as unknown;
    if (!TOP_LEVEL_OPERATORS.has(name) || !isPlainObject(fields)) return undefined;
    if (name === '$set' && mergeOnInsert) fields = { ...fields, ...(onInsert as Document) };
    operators.push([name, fields as Document]);
  }
  if (mergeOnInsert && !Object.hasOwn(update, '$set')) operators.push(['$set', { ...(onInsert as Document) }]);
  const names = operators.length > 1 ? new Set<string>() : undefined;
  for (const [operator, fields] of operators) {
    for (const name of Object.keys(fields)) {
      if (name === '' || name === '_id' || name === '__proto__' || name.includes('.') || name.includes('$'))
        return undefined;
      if (operator === '$inc' && !isNumber(normalize(fields[name]))) return undefined;
      if (names) {
        if (names.has(name)) return undefined;
        names.add(name);
      }
    }
  }
  return operators;
}

/**
 * mingo 7.2's `$set`, `$inc`, `$min`, `$max` and `$unset` on top-level fields of a document,
 * statement for statement (`mingo/cjs/operators/update/*.js`; on a plain document its path walk
 * reaches `doc[name]` directly). Values are deep-copied, as `update()` with `cloneMode: 'deep'`
 * did. Returns whether any field changed.
 */
function applyTopLevel(operator: string, fields: Document, doc: Document): boolean {
  let changed = false;
  for (const name of Object.keys(fields)) {
    const value = normalizedCopy(fields[name]);
    switch (operator) {
      case '$set':
        if (isEqual(doc[name], value)) continue;
        doc[name] = value;
        break;
      case '$inc': {
        if (!isNumber(doc[name]) && doc[name] !== undefined) continue;
        const previous = doc[name] as number | undefined;
        doc[name] = (previous || 0) + (value as number);
        if (doc[name] === previous) continue;
        break;
      }
      case '$min':
        if (doc[name] !== undefined && compare(doc[name], value) < 1) continue;
        doc[name] = value;
        break;
      case '$max':
        if (compare(doc[name], value) > -1) continue;
        doc[name] = value;
        break;
      case '$unset': {
        if (!Object.hasOwn(doc, name)) continue;
        const previous = doc[name] as unknown;
        delete doc[name];
        if (isEqual(previous, undefined)) continue;
        break;
      }
    }
    changed = true;
  }
  return changed;
}

/** `cloneDocument(normalize(value))` in one pass: Long, Int32 and Double wrappers become numbers. */
function normalizedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizedCopy);
  if (isPlainObject(value)) {
    const copy: Document = {};
    for (const key of Object.keys(value)) copy[key] = normalizedCopy(value[key]);
    return copy;
  }
  if (value instanceof Date) return new Date(value.getTime());
  const type = (value as { _bsontype?: string } | null | undefined)?._bsontype;
  return type === 'Long' || type === 'Int32' || type === 'Double' ? normalize(value) : value;
}

/**
 * mingo's operator functions for `modifier`'s operators, in order, when applying them one by
 * one is exactly what mingo's `update()` does: every operator known and not `$rename` (whose
 * targets `update()` adds to its path checks), and no path that `update()` refuses before
 * applying anything: `$`-prefixed or positional, on `_id`, through `__proto__`, or equal to or
 * inside another updated path (a conflict), or with an empty segment. Undefined otherwise: `update()` then runs, and
 * raises its error as before.
 */
function directOperators(modifier: Document, operators: string[]): UpdateOperator[] | undefined {
  const known = (name: string): boolean => Object.hasOwn(updateOperators, name);
  const operator = (name: string) => updateOperators[name as keyof typeof updateOperators] as unknown as UpdateOperator;
  // One operator: its own path checks are all `update()` would make.
  if (operators.length === 1) return known(operators[0]) ? [operator(operators[0])] : undefined;
  const functions: UpdateOperator[] = [];
  const paths = new Set<string>();
  for (const name of operators) {
    if (name === '$rename' || !known(name)) return undefined;
    functions.push(operator(name));
    const fields = modifier[name] as unknown;
    if (!isPlainObject(fields)) return undefined;
    for (const path of Object.keys(fields)) {
      const parts = path.split('.');
      if (path.includes('$') || parts[0] === '_id' || parts.includes('__proto__') || parts.includes(''))
        return undefined;
      if (paths.has(path)) return undefined;
      paths.add(path);
    }
  }
  if (paths.size > 1) {
    // A conflict: one path a dotted prefix of another (`a` and `a.b`).
    for (const path of paths) {
      for (let dot = path.indexOf('.'); dot !== -1; dot = path.indexOf('.', dot + 1))
        if (paths.has(path.slice(0, dot))) return undefined;
    }
  }
  return functions;
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
  variables?: Document,
): UpdateOutcome {
  if (Array.isArray(update)) {
    const [output] = runPipeline([cloneDocument(stored)], rewritePipeline(update), undefined, variables);
    const result = keepId(stored, output);
    assertSameId(stored, result);
    return { doc: result, modified: !sameCanonicalKey(result, stored) };
  }
  if (!isOperatorUpdate(update)) {
    const replacement: Document = cloneDocument(update as Document);
    if ('_id' in replacement) {
      assertStorableId(replacement);
      assertSameId(stored, replacement);
    }
    const doc = { ...replacement, _id: stored._id };
    const replaced = withIdFirst(doc);
    return { doc: replaced, modified: !sameCanonicalKey(replaced, stored) };
  }
  const { doc, changed } = applyOperators(stored, true, update, arrayFilters, filter, false);
  assertSameId(stored, doc);
  return { doc, modified: changed };
}

/**
 * A pipeline update's output without `_id` (a `$replaceRoot`/`$replaceWith` of a subdocument, a
 * `$project` or `$unset` of it) keeps the stored `_id`, as MongoDB's update stage does.
 */
function keepId(stored: Document, output: Document): Document {
  return '_id' in output ? output : { _id: stored._id, ...output };
}

/** The stages MongoDB allows in a pipeline update: each maps one document to one document. */
const PIPELINE_UPDATE_STAGES = new Set(['$set', '$addFields', '$project', '$unset', '$replaceRoot', '$replaceWith']);

/**
 * `applyUpdate` of one update pipeline for many documents, run as one mingo pipeline over all
 * of them instead of one pipeline per document (mingo builds its operator context for each).
 * Undefined when that cannot give the per-document results (a stage outside the update set,
 * or an error: the caller then updates document by document, stopping where MongoDB would).
 */
export function applyPipelineUpdateToAll(
  stored: Document[],
  update: Document[],
  variables?: Document,
): UpdateOutcome[] | undefined {
  if (!update.every((stage) => isPlainObject(stage) && PIPELINE_UPDATE_STAGES.has(Object.keys(stage)[0])))
    return undefined;
  let results: Document[];
  try {
    results = runPipeline(stored.map(cloneDocument), rewritePipeline(update), undefined, variables);
  } catch {
    return undefined;
  }
  if (results.length !== stored.length) return undefined;
  return results.map((output, i) => {
    const doc = keepId(stored[i], output);
    return { doc, modified: !sameCanonicalKey(doc, stored[i]) };
  });
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

export function buildUpsert(
  filter: Document,
  update: UpdateSpec,
  arrayFilters?: Document[],
  variables?: Document,
): Document {
  const base: Document = {};
  equalityFields(filter, base);
  let doc: Document;
  if (Array.isArray(update)) {
    [doc] = runPipeline([base], rewritePipeline(update), undefined, variables);
  } else if (!isOperatorUpdate(update)) {
    doc = cloneDocument(update);
    if (!('_id' in doc) && '_id' in base) doc._id = base._id;
  } else {
    doc = applyOperators(base, false, update, arrayFilters, undefined, true).doc;
    if ('_id' in base && '_id' in doc) assertSameId(base, doc);
  }
  if (doc._id === undefined) doc._id = new ObjectId();
  assertStorableId(doc);
  return withIdFirst(doc);
}
