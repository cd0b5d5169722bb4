import type { Document } from 'bson';
import { matching } from './commands/query.js';
import { compileGroup, runGroup } from './group-stage.js';
import { equalityLookup, runEqualityLookup, type CollectionLookup } from './joins.js';
import { engineOptions, rewritePipeline, runPipeline } from './mingo-compat.js';
import { cloneDocument, isPlainObject } from './paths.js';

/**
 * Runs a rewritten pipeline over copied documents. Equality `$lookup`s and `$unionWith`s run
 * here, against the foreign collection's indexes, and so do the `$group`s `compileGroup` knows
 * (`src/group-stage.ts`) and plain `$unwind`s of a top-level field; the stages between them run
 * in mingo, whose own `$lookup` (and any join inside `$facet`) gets a copy of the foreign
 * collection.
 */
export function runStages(
  docs: Document[],
  pipeline: Document[],
  collections: CollectionLookup,
  variables?: Document,
): Document[] {
  const resolver = (name: string): Document[] => matching(collections(name), {}).map(cloneDocument);
  let current = docs;
  let segment: Document[] = [];
  const flush = (): void => {
    if (segment.length) current = runPipeline(current, segment, resolver, variables);
    segment = [];
  };
  for (const stage of pipeline) {
    const join = equalityLookup(stage);
    if (join) {
      flush();
      const joined = runEqualityLookup(current, join, collections(join.from));
      if (joined) {
        current = joined;
        continue;
      }
    }
    const group = '$group' in stage ? compileGroup(stage.$group, engineOptions(undefined, variables)) : undefined;
    if (group) {
      flush();
      current = runGroup(current, group);
      continue;
    }
    const unwound = plainUnwindField(stage);
    if (unwound !== undefined) {
      flush();
      current = runUnwind(current, unwound);
      continue;
    }
    const union = unionSpec(stage);
    if (union) {
      flush();
      current = current.concat(unionDocuments(union, collections, variables));
      continue;
    }
    segment.push(stage);
  }
  flush();
  return current;
}

/**
 * The field of `$unwind: '$field'` (or `{ path: '$field' }`) for a top-level field, without
 * `includeArrayIndex` or `preserveNullAndEmptyArrays`: the form Siteline's rollups and counts use
 * on every row. mingo rebuilds each output document through its path resolver, which cost more
 * than the `$group` after it; other forms stay with mingo.
 */
export function plainUnwindField(stage: Document): string | undefined {
  const spec = stage.$unwind as unknown;
  const path =
    typeof spec === 'string'
      ? spec
      : isPlainObject(spec) && Object.keys(spec).join() === 'path'
        ? spec.path
        : undefined;
  if (typeof path !== 'string' || !path.startsWith('$') || path.startsWith('$$')) return undefined;
  const field = path.slice(1);
  return field === '' || field.includes('.') ? undefined : field;
}

/**
 * MongoDB's `$unwind` of a top-level field: a document per element of a non-empty array, with
 * the element in its place (the other fields shared, never changed); no document for an empty
 * array, null or a missing field; a document with any other value passes as it is.
 */
function runUnwind(docs: Document[], field: string): Document[] {
  const out: Document[] = [];
  for (const doc of docs) {
    const value: unknown = Object.hasOwn(doc, field) ? doc[field] : undefined;
    if (Array.isArray(value)) for (const element of value) out.push({ ...doc, [field]: element });
    else if (value !== undefined && value !== null) out.push(doc);
  }
  return out;
}

function unionSpec(stage: Document): { coll: string; pipeline: Document[] } | undefined {
  const spec = stage.$unionWith as unknown;
  if (typeof spec === 'string') return { coll: spec, pipeline: [] };
  if (isPlainObject(spec) && typeof spec.coll === 'string')
    return { coll: spec.coll, pipeline: Array.isArray(spec.pipeline) ? (spec.pipeline as Document[]) : [] };
  return undefined;
}

/** The sub-pipeline's output; its leading `$match` is answered from the indexes, like a top-level one. */
function unionDocuments(
  union: { coll: string; pipeline: Document[] },
  collections: CollectionLookup,
  variables: Document | undefined,
): Document[] {
  let pipeline = union.pipeline;
  let filter: Document = {};
  if (pipeline.length > 0 && isPlainObject(pipeline[0].$match)) {
    filter = pipeline[0].$match;
    pipeline = pipeline.slice(1);
  }
  const source = matching(collections(union.coll), filter, Infinity, { variables }).map(cloneDocument);
  return pipeline.length ? runStages(source, rewritePipeline(pipeline), collections, variables) : source;
}
