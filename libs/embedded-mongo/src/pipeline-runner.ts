import type { Document } from 'bson';
import { matching } from './commands/query.js';
import { compileGroup, runGroup } from './group-stage.js';
import { equalityLookup, runEqualityLookup, type CollectionLookup } from './joins.js';
import { engineOptions, rewritePipeline, runPipeline } from './mingo-compat.js';
import { cloneDocument, isPlainObject } from './paths.js';

/**
 * Runs a rewritten pipeline over copied documents. Equality `$lookup`s and `$unionWith`s run
 * here, against the foreign collection's indexes, and so do the `$group`s `compileGroup` knows
 * (`src/group-stage.ts`); the stages between them run in mingo, whose own `$lookup` (and any
 * join inside `$facet`) gets a copy of the foreign collection.
 */
export function runStages(docs: Document[], pipeline: Document[], collections: CollectionLookup): Document[] {
  const resolver = (name: string): Document[] => matching(collections(name), {}).map(cloneDocument);
  let current = docs;
  let segment: Document[] = [];
  const flush = (): void => {
    if (segment.length) current = runPipeline(current, segment, resolver);
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
    const group = '$group' in stage ? compileGroup(stage.$group, engineOptions()) : undefined;
    if (group) {
      flush();
      current = runGroup(current, group);
      continue;
    }
    const union = unionSpec(stage);
    if (union) {
      flush();
      current = current.concat(unionDocuments(union, collections));
      continue;
    }
    segment.push(stage);
  }
  flush();
  return current;
}

function unionSpec(stage: Document): { coll: string; pipeline: Document[] } | undefined {
  const spec = stage.$unionWith as unknown;
  if (typeof spec === 'string') return { coll: spec, pipeline: [] };
  if (isPlainObject(spec) && typeof spec.coll === 'string')
    return { coll: spec.coll, pipeline: Array.isArray(spec.pipeline) ? (spec.pipeline as Document[]) : [] };
  return undefined;
}

/** The sub-pipeline's output; its leading `$match` is answered from the indexes, like a top-level one. */
function unionDocuments(union: { coll: string; pipeline: Document[] }, collections: CollectionLookup): Document[] {
  let pipeline = union.pipeline;
  let filter: Document = {};
  if (pipeline.length > 0 && isPlainObject(pipeline[0].$match)) {
    filter = pipeline[0].$match;
    pipeline = pipeline.slice(1);
  }
  const source = matching(collections(union.coll), filter).map(cloneDocument);
  return pipeline.length ? runStages(source, rewritePipeline(pipeline), collections) : source;
}
