import type { Binary, Document } from 'bson';
import { canonicalKey } from './bson-order.js';
import type { Collection } from './catalog.js';
import type { Index } from './indexes.js';
import { isPlainObject } from './paths.js';

/**
 * Chooses an index for a filter and returns the documents in its key range — a superset of
 * the matches — with the part of the filter the range does not already guarantee, which mingo
 * then applies. Returns undefined when no index helps. Only equality, $eq, $in and
 * $gt/$gte/$lt/$lte on an index prefix are used.
 */

type Condition =
  | { kind: 'points'; values: unknown[] }
  | { kind: 'range'; low?: unknown; lowInclusive: boolean; high?: unknown; highInclusive: boolean };

interface Interval {
  start: unknown[];
  startInclusive: boolean;
  end: unknown[];
  endInclusive: boolean;
}

/**
 * Key intervals one filter may expand to: each costs two binary searches, far less than the
 * full scan a larger `$in` (the sessionizer checks 10,000 ids at a time) would fall back to.
 */
const MAX_INTERVALS = 50_000;

/** Values that index equality can look up: not regexes, arrays (whole-array equality) or operator objects. */
function isIndexablePoint(value: unknown): boolean {
  if (Array.isArray(value) || value instanceof RegExp) return false;
  if (typeof value === 'object' && value !== null) {
    if ((value as { _bsontype?: string })._bsontype === 'BSONRegExp') return false;
    if (isPlainObject(value)) return Object.keys(value).every((key) => !key.startsWith('$'));
  }
  return true;
}

function conditionsFor(filter: Document, field: string): Condition[] {
  const found: Condition[] = [];
  if (field in filter) {
    const condition = toCondition(filter[field]);
    if (condition) found.push(condition);
  }
  if (Array.isArray(filter.$and)) {
    for (const clause of filter.$and) {
      if (isPlainObject(clause)) found.push(...conditionsFor(clause, field));
    }
  }
  return found;
}

function toCondition(value: unknown): Condition | undefined {
  if (!isPlainObject(value) || !Object.keys(value).some((key) => key.startsWith('$'))) {
    return isIndexablePoint(value) ? { kind: 'points', values: [value] } : undefined;
  }
  if ('$eq' in value && isIndexablePoint(value.$eq)) return { kind: 'points', values: [value.$eq] };
  if (Array.isArray(value.$in) && value.$in.every(isIndexablePoint)) return { kind: 'points', values: value.$in };
  const range: Condition = { kind: 'range', lowInclusive: true, highInclusive: true };
  const scalar = (v: unknown): boolean => isIndexablePoint(v) && !isPlainObject(v);
  if ('$gt' in value && scalar(value.$gt)) Object.assign(range, { low: value.$gt, lowInclusive: false });
  if ('$gte' in value && scalar(value.$gte)) Object.assign(range, { low: value.$gte, lowInclusive: true });
  if ('$lt' in value && scalar(value.$lt)) Object.assign(range, { high: value.$lt, highInclusive: false });
  if ('$lte' in value && scalar(value.$lte)) Object.assign(range, { high: value.$lte, highInclusive: true });
  return range.low !== undefined || range.high !== undefined ? range : undefined;
}

interface IntervalPlan {
  intervals: Interval[];
  /** Rewards equality fields over a trailing range. */
  score: number;
  /** The index fields whose conditions shaped the intervals, in index order. */
  used: string[];
}

/** Builds key intervals for one index from the conditions on a prefix of its fields. */
function intervalsFor(index: Index, filter: Document): IntervalPlan | undefined {
  let prefixes: unknown[][] = [[]];
  let score = 0;
  const used: string[] = [];
  for (let i = 0; i < index.fields.length; i++) {
    const conditions = conditionsFor(filter, index.fields[i]);
    const points = conditions.find((c) => c.kind === 'points');
    if (points && points.kind === 'points') {
      if (prefixes.length * points.values.length > MAX_INTERVALS) break;
      prefixes = prefixes.flatMap((prefix) => points.values.map((value) => [...prefix, value]));
      score += 2;
      used.push(index.fields[i]);
      continue;
    }
    const range = conditions.find((c) => c.kind === 'range');
    if (range && range.kind === 'range') {
      score += 1;
      used.push(index.fields[i]);
      return { intervals: prefixes.map((prefix) => rangeInterval(index, i, prefix, range)), score, used };
    }
    break;
  }
  if (score === 0) return undefined;
  return {
    intervals: prefixes.map((prefix) => ({ start: prefix, startInclusive: true, end: prefix, endInclusive: true })),
    score,
    used,
  };
}

function rangeInterval(
  index: Index,
  field: number,
  prefix: unknown[],
  range: Extract<Condition, { kind: 'range' }>,
): Interval {
  // On a multikey index one element may satisfy $gt and another $lt, so only one bound is safe.
  const high = index.multikey && range.low !== undefined ? undefined : range.high;
  const lowSide =
    range.low === undefined
      ? { bound: prefix, inclusive: true }
      : { bound: [...prefix, range.low], inclusive: range.lowInclusive };
  const highSide =
    high === undefined
      ? { bound: prefix, inclusive: true }
      : { bound: [...prefix, high], inclusive: range.highInclusive };
  const [startSide, endSide] = index.directions[field] === 1 ? [lowSide, highSide] : [highSide, lowSide];
  return {
    start: startSide.bound,
    startInclusive: startSide.inclusive,
    end: endSide.bound,
    endInclusive: endSide.inclusive,
  };
}

export interface ScanPlan {
  /** Candidates one at a time: a limited query stops reading the index after its matches. */
  documents: Iterable<Document>;
  /**
   * The filter less the conditions the key ranges answer exactly, which every candidate meets
   * already; `{}` when every candidate matches. Testing only this spares mingo re-checking the
   * site, set and day of each of the thousands of rollup rows a stats read takes from an index.
   */
  residual: Document;
}

/**
 * Scalars whose index equality is exactly the query's equality (no null/missing, array or
 * document rules). BinData too (the rollups' hashed `_id`s): MongoDB orders and equates it by
 * length, then subtype, then bytes, which is what the index compares (`compareBson`) and what
 * `canonicalKey` spells out; only a Binary holding no spare capacity beyond its bytes, as every
 * decoded one does, so that the bytes compared are exactly its value.
 */
export function isExactScalar(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return !Number.isNaN(value);
  if (value instanceof Date) return true;
  const type = (value as { _bsontype?: string } | null)?._bsontype;
  if (type === 'ObjectId') return true;
  return type === 'Binary' && (value as Binary).buffer.length === (value as Binary).position;
}

/**
 * Range bounds whose key interval holds exactly the values the query's comparison accepts:
 * two strings, two numbers or two dates. MongoDB's comparisons only match values of the
 * bounds' type, and an index interval between two such bounds holds only that type; with one
 * bound the interval runs on into the neighbouring types, so it is only a superset.
 */
function exactBounds(low: unknown, high: unknown): boolean {
  if (typeof low === 'string' && typeof high === 'string') return true;
  if (typeof low === 'number' && typeof high === 'number') return !Number.isNaN(low) && !Number.isNaN(high);
  return low instanceof Date && high instanceof Date;
}

const RANGE_OPERATORS = new Set(['$gt', '$gte', '$lt', '$lte']);

/** Whether a field's condition, as written, is exactly what its part of the key intervals selects. */
function answeredByIntervals(condition: unknown, multikey: boolean): boolean {
  if (!isPlainObject(condition) || !Object.keys(condition).some((key) => key.startsWith('$')))
    return isExactScalar(condition);
  const operators = Object.keys(condition);
  if (operators.length === 1 && operators[0] === '$eq') return isExactScalar(condition.$eq);
  if (operators.length === 1 && operators[0] === '$in')
    return Array.isArray(condition.$in) && condition.$in.every(isExactScalar);
  // On a multikey index only one bound is used (see rangeInterval): never exact.
  if (multikey || !operators.every((operator) => RANGE_OPERATORS.has(operator))) return false;
  const low = condition.$gte ?? condition.$gt;
  const high = condition.$lte ?? condition.$lt;
  const oneEach = !('$gte' in condition && '$gt' in condition) && !('$lte' in condition && '$lt' in condition);
  return oneEach && low !== undefined && high !== undefined && exactBounds(low, high);
}

/** Every condition on `field` in the filter's top level and its (nested) `$and` clauses. */
function occurrences(filter: Document, field: string): unknown[] {
  const found: unknown[] = field in filter ? [filter[field]] : [];
  if (Array.isArray(filter.$and))
    for (const clause of filter.$and) if (isPlainObject(clause)) found.push(...occurrences(clause, field));
  return found;
}

/** The filter without its conditions on `fields` (top level and `$and` clauses); an emptied `$and` goes too. */
function withoutFields(filter: Document, fields: Set<string>): Document {
  const rest: Document = {};
  for (const [key, value] of Object.entries(filter)) {
    if (fields.has(key)) continue;
    if (key === '$and' && Array.isArray(value)) {
      const clauses = value
        .map((clause: unknown) => (isPlainObject(clause) ? withoutFields(clause, fields) : clause))
        .filter((clause: unknown) => !isPlainObject(clause) || Object.keys(clause).length > 0);
      if (clauses.length > 0) rest.$and = clauses;
      continue;
    }
    rest[key] = value;
  }
  return rest;
}

/**
 * What remains of `filter` for mingo once the plan's key ranges have selected the candidates: a
 * used field is dropped when it is constrained exactly once (top level or one `$and` clause) by
 * a condition the intervals answer exactly. Anything else on that field keeps all its conditions.
 */
function residualFilter(index: Index, plan: IntervalPlan, filter: Document): Document {
  const answered = new Set<string>();
  for (const field of plan.used) {
    const conditions = occurrences(filter, field);
    if (conditions.length === 1 && answeredByIntervals(conditions[0], index.multikey)) answered.add(field);
  }
  return answered.size === 0 ? filter : withoutFields(filter, answered);
}

/**
 * Picks, among the indexes that can narrow `filter`, the one whose key ranges hold the fewest
 * entries (counted by binary search, not by scanning): `{ siteId, ts }` matches a whole site
 * for `{ siteId, receivedAt: { $gt } }`, while `{ receivedAt }` holds only the recent hits.
 * Ties go to more equality fields, then to a unique index. Undefined when no index helps.
 */
export function planScan(collection: Collection, filter: Document): ScanPlan | undefined {
  if (!isPlainObject(filter) || Object.keys(filter).length === 0) return undefined;
  const plans: IndexPlan[] = [];
  for (const index of collection.indexes.values()) {
    if (!index.coversAllDocuments) continue;
    const plan = intervalsFor(index, filter);
    if (plan) plans.push({ index, ...plan });
  }
  // A lone candidate is not counted: counting costs two searches per interval (10,000 for the
  // sessionizer's `$in`) and would decide nothing.
  const best = plans.length === 1 ? plans[0] : cheapest(plans);
  if (!best) return undefined;
  return {
    documents: documentsInRanges(collection, best.index, best.intervals),
    residual: residualFilter(best.index, best, filter),
  };
}

interface IndexPlan extends IntervalPlan {
  index: Index;
}

function cheapest(plans: IndexPlan[]): IndexPlan | undefined {
  let best: (IndexPlan & { entries: number }) | undefined;
  for (const plan of plans) {
    const { index } = plan;
    let entries = 0;
    for (const interval of plan.intervals)
      entries += index.count(interval.start, interval.startInclusive, interval.end, interval.endInclusive);
    const better =
      !best ||
      entries < best.entries ||
      (entries === best.entries &&
        (plan.score > best.score || (plan.score === best.score && index.unique && !best.index.unique)));
    if (better) best = { ...plan, entries };
  }
  return best;
}

/**
 * The documents of `_id` point intervals (`{ _id: { $in: [...] } }`), from the collection's map
 * by canonical `_id` rather than by two binary searches of the `_id` index each: canonical keys
 * are equal exactly when the index compares the values equal, and the index is unique, so each
 * point holds at most this one document, in the same order.
 */
function* documentsAtIds(collection: Collection, intervals: Interval[]): Generator<Document> {
  const seen = intervals.length > 1 ? new Set<string>() : undefined;
  for (const { start } of intervals) {
    const id = canonicalKey(start[0]);
    if (seen) {
      if (seen.has(id)) continue;
      seen.add(id);
    }
    const doc = collection.docs.get(id);
    if (doc) yield doc;
  }
}

function isPointOnId(index: Index, intervals: Interval[]): boolean {
  return (
    index.name === '_id_' &&
    intervals.every(
      (interval) =>
        interval.start.length === 1 &&
        interval.end === interval.start &&
        interval.startInclusive &&
        interval.endInclusive,
    )
  );
}

function* documentsInRanges(collection: Collection, index: Index, intervals: Interval[]): Generator<Document> {
  if (isPointOnId(index, intervals)) {
    yield* documentsAtIds(collection, intervals);
    return;
  }
  // A document appears once per key: several intervals or array values could repeat it.
  const seen = intervals.length > 1 || index.multikey ? new Set<string>() : undefined;
  for (const interval of intervals) {
    for (const entry of index.range(interval.start, interval.startInclusive, interval.end, interval.endInclusive)) {
      if (seen) {
        if (seen.has(entry.id)) continue;
        seen.add(entry.id);
      }
      yield entry.slot.doc;
    }
  }
}

/**
 * For `find` with a sort and a limit: walks an index whose key pattern starts with the sort
 * fields (same or exactly reversed directions) and stops after `needed` matches, instead of
 * sorting every match. Multikey indexes are skipped: MongoDB sorts arrays by their min/max
 * element, which index order does not give. Returns undefined when no index fits.
 */
export function firstInSortOrder(
  collection: Collection,
  sort: Document,
  matches: (doc: Document) => boolean,
  needed: number,
): Document[] | undefined {
  const fields = Object.entries(sort).map(([path, direction]) => ({ path, direction: direction === -1 ? -1 : 1 }));
  for (const index of collection.indexes.values()) {
    if (!index.coversAllDocuments || index.multikey || fields.length > index.fields.length) continue;
    const samePaths = fields.every((field, i) => index.fields[i] === field.path);
    const forward = samePaths && fields.every((field, i) => index.directions[i] === field.direction);
    const backward = samePaths && fields.every((field, i) => index.directions[i] === -field.direction);
    if (!forward && !backward) continue;
    const found: Document[] = [];
    index.walk(backward, (entry) => {
      const doc = entry.slot.doc;
      if (matches(doc)) found.push(doc);
      return found.length < needed;
    });
    return found;
  }
  return undefined;
}
