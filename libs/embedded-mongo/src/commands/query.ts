import type { Document } from 'bson';
import { Query } from 'mingo/query';
import type { Collection } from '../catalog.js';
import { compileFilter, engineOptions, normalize } from '../mingo-compat.js';
import { isPlainObject } from '../paths.js';
import { firstInSortOrder } from '../planner.js';
import { sortDocuments } from '../sort.js';

/** Stored documents matching `filter`, narrowed by an index when possible; never copies. */
export function matching(collection: Collection | undefined, filter: unknown, limit = Infinity): Document[] {
  const criteria = isPlainObject(filter) ? filter : {};
  const result: Document[] = [];
  // Compiled even for a missing collection so unknown operators are always reported.
  const query = Object.keys(criteria).length === 0 ? undefined : compileFilter(criteria);
  if (!collection) return result;
  if (!query) {
    for (const doc of collection.docs.values()) {
      if (result.length >= limit) break;
      result.push(doc);
    }
    return result;
  }
  for (const doc of collection.candidates(criteria)) {
    if (result.length >= limit) break;
    if (query.test(doc)) result.push(doc);
  }
  return result;
}

/** Matches for a sorted, limited find: read in index order when an index fits the sort. */
export function sortedMatches(
  collection: Collection | undefined,
  filter: unknown,
  sort: Document,
  needed: number,
): Document[] | undefined {
  if (!collection || !Number.isFinite(needed)) return undefined;
  const criteria = isPlainObject(filter) ? filter : {};
  const query = Object.keys(criteria).length === 0 ? undefined : compileFilter(criteria);
  return firstInSortOrder(collection, sort, (doc) => !query || query.test(doc), needed);
}

export interface ShapeOptions {
  sort?: Document;
  skip?: number;
  limit?: number;
  projection?: Document;
}

/** Applies sort, skip, limit and projection with mingo's cursor. */
export function shape(docs: Document[], options: ShapeOptions): Document[] {
  const hasSort = isPlainObject(options.sort) && Object.keys(options.sort).length > 0;
  const hasProjection = isPlainObject(options.projection) && Object.keys(options.projection).length > 0;
  if (!hasSort && !hasProjection && !options.skip && !options.limit) return docs;
  const sorted = hasSort ? sortDocuments(docs, options.sort as Document) : docs;
  let cursor = new Query({}, engineOptions()).find<Document>(
    sorted,
    hasProjection ? normalize(options.projection) : undefined,
  );
  if (options.skip) cursor = cursor.skip(options.skip);
  if (options.limit) cursor = cursor.limit(options.limit);
  return cursor.all();
}
