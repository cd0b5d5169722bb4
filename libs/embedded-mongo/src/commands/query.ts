import type { Document } from 'bson';
import { Query } from 'mingo/query';
import type { Collection } from '../catalog.js';
import type { Collation } from '../collation.js';
import { CommandError } from '../errors.js';
import { compileFilter, engineOptions, normalize, type QueryScope } from '../mingo-compat.js';
import { isPlainObject } from '../paths.js';
import { firstInSortOrder, isExactScalar } from '../planner.js';
import { sortDocuments } from '../sort.js';

/**
 * `{ _id: <scalar>, … }`, the filter of most single-document writes: a primary-key lookup, then
 * only the other conditions to test (none for `{ _id }` alone, which needs no compiled filter).
 * The scalars are those whose `_id` index equality is the query's (`isExactScalar`), so the
 * lookup by canonical key finds exactly the document the index would.
 */
function primaryKey(criteria: Document): unknown {
  if (!Object.hasOwn(criteria, '_id')) return undefined;
  let id = criteria._id as unknown;
  // `{ $eq: x }` and `{ $in: [x] }` select what `x` does (the sessionizer's per-hit updates).
  if (isPlainObject(id)) {
    const operators = Object.keys(id);
    if (operators.length !== 1) return undefined;
    if (operators[0] === '$eq') id = id.$eq;
    else if (operators[0] === '$in' && Array.isArray(id.$in) && id.$in.length === 1) id = (id.$in as unknown[])[0];
    else return undefined;
  }
  return isExactScalar(id) ? id : undefined;
}

function onlyId(criteria: Document): boolean {
  for (const name in criteria) if (name !== '_id') return false;
  return true;
}

/**
 * Stored documents matching `filter`, narrowed by an index when possible; never copies. Under a
 * collation every document is tested: the indexes hold binary string keys.
 */
export function matching(
  collection: Collection | undefined,
  filter: unknown,
  limit = Infinity,
  scope?: QueryScope,
): Document[] {
  const criteria = isPlainObject(filter) ? filter : {};
  if (scope?.collation) {
    const collated = compileFilter(criteria, scope);
    const found: Document[] = [];
    for (const doc of collection?.docs.values() ?? []) {
      if (found.length >= limit) break;
      if (collated.test(doc)) found.push(doc);
    }
    return found;
  }
  const id = primaryKey(criteria);
  if (id !== undefined) {
    // At most one document holds that `_id`, whichever index would have found it: the same
    // answer as a planned scan, which reads the `_id` index with the same key equality.
    const doc = limit >= 1 ? collection?.get(id) : undefined;
    // `{ _id }` alone (most statements of a bulk write) needs no copy of the filter without it.
    if (onlyId(criteria)) return doc ? [doc] : [];
    const { _id: _answered, ...others } = criteria;
    // Compiled even without a document, so unknown operators are always reported.
    const rest = compileFilter(others, scope);
    return doc && rest.test(doc) ? [doc] : [];
  }
  const result: Document[] = [];
  if (Object.keys(criteria).length === 0) {
    for (const doc of collection?.docs.values() ?? []) {
      if (result.length >= limit) break;
      result.push(doc);
    }
    return result;
  }
  // Compiled even for a missing collection so unknown operators are always reported.
  if (!collection) {
    compileFilter(criteria, scope);
    return result;
  }
  const plan = collection.candidates(criteria);
  // Only what the index range leaves open is compiled and tested: mingo's `$in` compares with
  // every listed value (10,000 ids would cost 10^8 comparisons), and re-checking the key fields
  // of every candidate cost more than grouping them. The conditions the ranges answer are plain
  // scalars, `$eq`/`$in` of scalars and two-bounded ranges, which always compile: leaving them
  // out of the compiled filter loses no error.
  const rest =
    plan.residual === criteria
      ? compileFilter(criteria, scope)
      : Object.keys(plan.residual).length
        ? compileFilter(plan.residual, scope)
        : undefined;
  for (const doc of plan.documents) {
    if (result.length >= limit) break;
    if (!rest || rest.test(doc)) result.push(doc);
  }
  return result;
}

/** Matches for a sorted, limited find: read in index order when an index fits the sort. */
export function sortedMatches(
  collection: Collection | undefined,
  filter: unknown,
  sort: Document,
  needed: number,
  scope?: QueryScope,
): Document[] | undefined {
  if (!collection || !Number.isFinite(needed) || scope?.collation) return undefined;
  const criteria = isPlainObject(filter) ? filter : {};
  const query = Object.keys(criteria).length === 0 ? undefined : compileFilter(criteria, scope);
  return firstInSortOrder(collection, sort, (doc) => !query || query.test(doc), needed);
}

export interface ShapeOptions {
  sort?: Document;
  skip?: number;
  limit?: number;
  projection?: Document;
  collation?: Collation;
}

/** Applies sort, skip, limit and projection (mingo's cursor for anything but top-level field lists). */
export function shape(docs: Document[], options: ShapeOptions): Document[] {
  const hasSort = isPlainObject(options.sort) && Object.keys(options.sort).length > 0;
  const hasProjection = isPlainObject(options.projection) && Object.keys(options.projection).length > 0;
  if (!hasSort && !hasProjection && !options.skip && !options.limit) return docs;
  const sorted = hasSort ? sortDocuments(docs, options.sort as Document, options.collation?.compareStrings) : docs;
  const fields = hasProjection ? topLevelFields(options.projection as Document) : undefined;
  if (fields || !hasProjection) {
    const start = options.skip ?? 0;
    const page = sorted.slice(start, options.limit ? start + options.limit : undefined);
    return fields ? page.map((doc) => pickFields(doc, fields)) : page;
  }
  let cursor = new Query({}, engineOptions()).find<Document>(
    sorted,
    hasProjection ? normalize(options.projection) : undefined,
  );
  if (options.skip) cursor = cursor.skip(options.skip);
  if (options.limit) cursor = cursor.limit(options.limit);
  return cursor.all();
}

/** A projection that only includes or only excludes top-level fields (the common case). */
interface FieldList {
  include: boolean;
  names: Set<string>;
  keepId: boolean;
}

/**
 * Recognises `{ a: 1, b: 1 }` / `{ a: 0 }` (with `_id` on or off) so they are applied by
 * picking keys, in stored order as MongoDB returns them; mingo's general `$project` cost a
 * fifth of the store's CPU on the sessionizer's and rollup job's reads. Anything else (dotted
 * paths, operators, expressions) is left to mingo: undefined.
 */
function topLevelFields(projection: Document): FieldList | undefined {
  let include: boolean | undefined;
  let keepId = true;
  const names = new Set<string>();
  for (const [name, value] of Object.entries(projection)) {
    if (typeof value !== 'number' && typeof value !== 'boolean') return undefined;
    if (name.includes('.') || name.startsWith('$')) return undefined;
    const on = Boolean(value);
    if (name === '_id') {
      keepId = on;
      continue;
    }
    if (include !== undefined && include !== on) return undefined;
    include = on;
    names.add(name);
  }
  // Only `_id` named: `{ _id: 1 }` returns just the id, `{ _id: 0 }` everything else.
  return { include: include ?? keepId, names, keepId };
}

function pickFields(doc: Document, { include, names, keepId }: FieldList): Document {
  const picked: Document = {};
  // Names, not entries: a pair array per field of every document read was a twentieth of what
  // the store allocated under ingest.
  for (const name of Object.keys(doc)) {
    const wanted = name === '_id' ? keepId : include === names.has(name);
    if (wanted) picked[name] = doc[name];
  }
  return picked;
}

/**
 * MongoDB plans a hinted query with that index only, and fails when none matches the hint: a
 * name, or a key pattern equal to an index's (`{ $natural: ±1 }` asks for a collection scan).
 * The store's own planner gives the same documents either way, except from a sparse or partial
 * index, which MongoDB would read as it is (missing the documents it does not hold): refused.
 */
export function assertHint(collection: Collection | undefined, hint: unknown): void {
  if (hint === undefined || hint === null || !collection) return;
  if (isPlainObject(hint) && Object.keys(hint).length === 0) return;
  if (isPlainObject(hint) && Object.keys(hint).length === 1 && '$natural' in hint) return;
  const wanted = JSON.stringify(hint);
  const index = [...collection.indexes.values()].find((candidate) =>
    typeof hint === 'string' ? candidate.name === hint : JSON.stringify(candidate.spec.key) === wanted,
  );
  if (!index) {
    if (typeof hint !== 'string' && !isPlainObject(hint))
      throw new CommandError('FailedToParse', 'hint must be a string or an object');
    throw new CommandError('BadValue', 'hint provided does not correspond to an existing index');
  }
  if (index.spec.sparse === true || index.spec.partialFilterExpression !== undefined) {
    throw new CommandError(
      'NotImplemented',
      `the embedded store does not implement hinting a sparse or partial index (${index.name})`,
    );
  }
}
