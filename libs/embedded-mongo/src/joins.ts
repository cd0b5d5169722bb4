import type { Document } from 'bson';
import { canonicalKey } from './bson-order.js';
import type { Collection } from './catalog.js';
import { cloneDocument, isPlainObject, valuesAtPath } from './paths.js';

/**
 * `$lookup` by `localField`/`foreignField` and `$unionWith`, answered from the foreign
 * collection's indexes instead of a copy of the whole collection (which mingo's own stages
 * need: a join against a million-document collection copied it for every read).
 */

export type CollectionLookup = (name: string) => Collection | undefined;

/**
 * Join keys of a foreign document: its values at `path` (array elements one by one), null when
 * missing. An empty array has none: like `{ field: null }`, a join on null does not reach it.
 */
function joinKeys(doc: Document, path: string): string[] {
  const values = valuesAtPath(doc, path);
  if (values.length === 0) return [canonicalKey(null)];
  return values.filter((value) => value !== undefined).map(canonicalKey);
}

/**
 * Local values whose equality is plain: not an empty or nested array, a regular expression or
 * an operator-shaped document (those are left to mingo's own stage).
 */
function plainJoinValue(value: unknown): boolean {
  if (value === undefined || Array.isArray(value) || value instanceof RegExp) return false;
  if ((value as { _bsontype?: string } | null)?._bsontype === 'BSONRegExp') return false;
  return !isPlainObject(value) || Object.keys(value).every((key) => !key.startsWith('$'));
}

/** The equality `$lookup` form, or undefined when the stage is some other form (mingo runs those). */
export function equalityLookup(
  stage: Document,
): { from: string; local: string; foreign: string; as: string } | undefined {
  const spec = stage.$lookup as unknown;
  if (!isPlainObject(spec) || 'pipeline' in spec || 'let' in spec) return undefined;
  const { from, localField, foreignField, as } = spec;
  if (typeof from !== 'string' || typeof localField !== 'string' || typeof foreignField !== 'string') return undefined;
  if (typeof as !== 'string') return undefined;
  return { from, local: localField, foreign: foreignField, as };
}

/**
 * MongoDB's equality join: a foreign document joins when one of its `foreignField` values equals
 * one of the input's `localField` values (null matching null or missing). Candidates come from
 * an index on `foreignField` when there is one, else from one pass over the collection; only
 * the joined documents are copied. Returns undefined (leave it to mingo) for regex or
 * operator-shaped join values, whose equality mingo decides differently.
 */
export function runEqualityLookup(
  docs: Document[],
  join: { local: string; foreign: string; as: string },
  foreign: Collection | undefined,
): Document[] | undefined {
  const wanted = new Map<string, unknown>();
  for (const doc of docs) {
    const values = valuesAtPath(doc, join.local);
    for (const value of values.length === 0 ? [null] : values) {
      if (!plainJoinValue(value)) return undefined;
      wanted.set(canonicalKey(value), value);
    }
  }
  const byKey = new Map<string, Document[]>();
  for (const candidate of foreignCandidates(foreign, join.foreign, [...wanted.values()])) {
    for (const key of new Set(joinKeys(candidate, join.foreign))) {
      if (!wanted.has(key)) continue;
      const list = byKey.get(key);
      if (list) list.push(candidate);
      else byKey.set(key, [candidate]);
    }
  }
  return docs.map((doc) => {
    const joined = new Set<Document>();
    const values = valuesAtPath(doc, join.local);
    for (const value of values.length === 0 ? [null] : values)
      for (const match of byKey.get(canonicalKey(value)) ?? []) joined.add(match);
    return withPath(doc, join.as, [...joined].map(cloneDocument));
  });
}

/**
 * `doc` with `value` at `path`, the document and the objects along the path copied first:
 * mingo's `$unwind` (and other stages) give several output documents the same subdocuments,
 * so setting `meta.joined` in place would give every one of them the last join's result.
 */
function withPath(doc: Document, path: string, value: unknown): Document {
  const [head, ...rest] = path.split('.');
  const inner = doc[head] as unknown;
  return {
    ...doc,
    [head]: rest.length === 0 ? value : withPath(isPlainObject(inner) ? inner : {}, rest.join('.'), value),
  };
}

/** Foreign documents that may join: the index entries of the wanted values, or every document. */
function foreignCandidates(foreign: Collection | undefined, field: string, values: unknown[]): Iterable<Document> {
  if (!foreign) return [];
  const index = [...foreign.indexes.values()].find(
    (candidate) => candidate.coversAllDocuments && candidate.fields[0] === field,
  );
  // A missing foreign field is indexed as null, and arrays by their elements: a point lookup
  // per value finds exactly the documents whose join keys contain it.
  if (!index) return foreign.docs.values();
  const found = new Map<string, Document>();
  for (const value of values) {
    index.scan([value], true, [value], true, (entry) => found.set(entry.id, entry.slot.doc));
  }
  return [...found.values()];
}
