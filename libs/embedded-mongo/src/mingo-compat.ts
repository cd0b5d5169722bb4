import type { Document, ObjectId } from 'bson';
import { Aggregator } from 'mingo/aggregator';
import { Context, evalExpr } from 'mingo/core';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import { Lazy, type Iterator } from 'mingo/lazy';
import { Query } from 'mingo/query';
import type { Any, AnyObject, Options } from 'mingo/types';
import { flatten, isEqual } from 'mingo/util';
import { assertCollatableFilter, collatedQueryContext, type Collation } from './collation.js';
import { dateOperators } from './date-ops.js';
import { CommandError } from './errors.js';
import { isPlainObject } from './paths.js';
import { sortDocuments } from './sort.js';

/**
 * The thin layer between MongoDB semantics and mingo 7.2: our own date operators, pipeline
 * rewrites for stages mingo gets wrong, and value normalisation mingo cannot compare.
 */

/** `$sort` with MongoDB's type order and array rules; collation-aware sorts stay with mingo. */
function sortStage(collection: Iterator, spec: Document, options: Options): Iterator {
  if (options.collation) return pipelineOperators.$sort(collection, spec, options);
  return collection.transform((docs) => Lazy(sortDocuments(docs as Document[], spec)));
}

/**
 * `$eq` of aggregation expressions. MongoDB compares an absent field as a value of its own, below
 * null: `{ $eq: ['$x', null] }` is true when `x` is null and false when `x` is absent (only the
 * query language's `{ x: null }` matches both, and `$ifNull` folds one into the other). mingo
 * takes both as nil; otherwise its comparison is kept as it is (including its array traversal).
 */
function expressionEquals(obj: AnyObject, expr: Any, options: Options): boolean {
  if (!Array.isArray(expr) || expr.length !== 2)
    throw new CommandError('Location16020', 'Expression $eq takes exactly 2 arguments');
  const [a, b] = evalExpr(obj, expr, options) as [unknown, unknown];
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  if (isEqual(a, b)) return true;
  if (!Array.isArray(a)) return false;
  const depth = (options as { local?: { depth?: number } }).local?.depth ?? 1;
  return a.some((value) => isEqual(value, b)) || flatten(a, depth).some((value) => isEqual(value, b));
}

const equalityOperators = {
  $eq: (obj: AnyObject, expr: Any, options: Options) => expressionEquals(obj, expr, options),
  $ne: (obj: AnyObject, expr: Any, options: Options) => !expressionEquals(obj, expr, options),
};

/**
 * Built from mingo's operator sets directly: mingo's own default context cannot be
 * overridden (when contexts merge, the first definition of an operator wins).
 */
const context = Context.init({
  accumulator: accumulatorOperators,
  expression: {
    ...expressionOperators,
    ...(dateOperators as unknown as typeof expressionOperators),
    ...(equalityOperators as unknown as typeof expressionOperators),
  },
  pipeline: { ...pipelineOperators, $sort: sortStage as typeof pipelineOperators.$sort },
  projection: projectionOperators,
  query: queryOperators,
  window: windowOperators,
});

/** Resolves `$lookup`'s `from` to a copy of that collection's documents. */
export type CollectionResolver = (name: string) => Document[];

/** `let` variables of a command (already evaluated) and its collation, for filters and pipelines. */
export interface QueryScope {
  readonly variables?: Document;
  readonly collation?: Collation;
}

export function engineOptions(resolver?: CollectionResolver, variables?: Document): Partial<Options> {
  return {
    context,
    useStrictMode: true,
    ...(resolver ? { collectionResolver: resolver } : {}),
    ...(variables ? { variables } : {}),
  };
}

/**
 * A command's `let`: each value is an expression MongoDB evaluates once, before the command
 * runs, and binds as `$$name` in its filters and pipelines.
 */
export function evaluateLet(spec: unknown, commandName: string): Document | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec)) {
    throw new CommandError('TypeMismatch', `BSON field '${commandName}.let' is the wrong type, expected type 'object'`);
  }
  const [values] = runPipeline([{}], [{ $replaceWith: normalize(spec) }]);
  return values;
}

/**
 * mingo copies the whole operator context for every Query it compiles; a filter without `$expr`
 * only ever uses query operators, so it gets a context of just those (a tenth of the copying,
 * and filters are compiled for every find, update and delete).
 */
const filterOnlyOptions: Partial<Options> = { context: Context.init({ query: queryOperators }), useStrictMode: true };

/** Variables MongoDB defines itself, and those `$map`/`$filter`/`$reduce` bind by default. */
const PREDEFINED_VARIABLES = new Set([
  'ROOT',
  'CURRENT',
  'NOW',
  'CLUSTER_TIME',
  'REMOVE',
  'DESCEND',
  'PRUNE',
  'KEEP',
  'SEARCH_META',
  'USER_ROLES',
  'this',
  'value',
  'new',
]);

/**
 * Where `$$name` is a variable: in expressions (pipeline stages, `$expr`), not in a query
 * filter's values, where `'$$x'` is a plain string to match (nor inside `$literal`).
 */
type VariableContext = 'expression' | 'filter';

function collectVariables(value: unknown, used: Set<string>, bound: Set<string>, mode: VariableContext): void {
  if (typeof value === 'string') {
    if (mode === 'expression' && value.startsWith('$$')) used.add(value.slice(2).split('.')[0]);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectVariables(item, used, bound, mode);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, nested] of Object.entries(value)) {
    if (key === '$literal') continue;
    if (key === 'as' && typeof nested === 'string') bound.add(nested);
    if ((key === 'vars' || key === 'let') && isPlainObject(nested))
      for (const name of Object.keys(nested)) bound.add(name);
    const nestedMode = key === '$expr' ? 'expression' : key === '$match' ? 'filter' : mode;
    collectVariables(nested, used, bound, nestedMode);
  }
}

/**
 * MongoDB resolves `$$name` when it parses a filter or pipeline, so an undefined variable fails
 * the command (17276) even when no document reaches the expression; mingo would only notice
 * per document. Names bound anywhere in the tree (`$let`, `as`, a `$lookup`'s `let`) count as
 * defined, which can let a misplaced reference through but never refuses a valid one.
 */
export function assertVariablesDefined(
  tree: unknown,
  variables: Document | undefined,
  kind: 'pipeline' | 'filter' = 'pipeline',
): void {
  const used = new Set<string>();
  const bound = new Set<string>();
  collectVariables(tree, used, bound, kind === 'pipeline' ? 'expression' : 'filter');
  for (const name of used) {
    if (PREDEFINED_VARIABLES.has(name) || bound.has(name) || (variables && name in variables)) continue;
    throw new CommandError('Location17276', `Use of undefined variable: ${name}`);
  }
}

export function compileFilter(filter: Document, scope?: QueryScope): Query {
  const key = scope?.collation ? undefined : filterCacheKey(filter);
  if (key !== undefined) {
    const cached = compiledFilters.get(key);
    if (cached) {
      // Most recently used last: the first entry is the one to evict.
      compiledFilters.delete(key);
      compiledFilters.set(key, cached);
      return cached;
    }
  }
  const normalized = normalize(filter);
  if (scope?.collation) {
    assertCollatableFilter(normalized);
    return new Query(normalized, { context: collatedQueryContext(scope.collation), useStrictMode: true });
  }
  if (!usesExpressions(normalized)) {
    const query = new Query(normalized, filterOnlyOptions);
    if (key !== undefined) {
      if (compiledFilters.size >= COMPILED_FILTERS_KEPT) compiledFilters.delete(compiledFilters.keys().next().value!);
      compiledFilters.set(key, query);
    }
    return query;
  }
  assertVariablesDefined(normalized, scope?.variables, 'filter');
  return new Query(normalized, engineOptions(undefined, scope?.variables));
}

/**
 * Compiled filters by `filterCacheKey`. A bulk write sends the same conditions with every
 * statement (`{ _id: …, lastBatch: { $not: { $gte: 7 } } }` leaves `{ lastBatch: … }` once the
 * `_id` index has answered the rest), and compiling each anew (mingo copies its operator context
 * per Query) was a tenth of the store's CPU under ingest. A Query keeps no state between tests.
 */
const compiledFilters = new Map<string, Query>();
const COMPILED_FILTERS_KEPT = 512;
/** Longer filters (a 10,000-id `$in`) are not kept: building their key is most of compiling them. */
const MAX_FILTER_KEY_LENGTH = 2048;

/** Query operators whose compiled form depends only on their operands (no regex state, no scripts, no schemas). */
const CACHEABLE_OPERATORS = new Set([
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$not',
  '$and',
  '$or',
  '$nor',
  '$type',
  '$size',
  '$all',
  '$elemMatch',
  '$mod',
]);

/**
 * A string equal for two filters exactly when they are the same filter: same keys in the same
 * order, values of the same BSON type and value (`-0` apart from `0`, a Date by its time, an
 * ObjectId by its bytes). Undefined for anything else (Long, regexes, Binary, undefined, other
 * operators, a filter too long), which is then compiled every time.
 */
export function filterCacheKey(filter: Document): string | undefined {
  const parts: string[] = [];
  let length = 0;
  const add = (part: string): boolean => {
    parts.push(part);
    length += part.length;
    return length <= MAX_FILTER_KEY_LENGTH;
  };
  const visit = (value: unknown): boolean => {
    switch (typeof value) {
      case 'string':
        return add(JSON.stringify(value));
      case 'number':
        return add(Object.is(value, -0) ? 'n-0' : `n${value}`);
      case 'boolean':
        return add(value ? 'T' : 'F');
      case 'object':
        break;
      default:
        return false;
    }
    if (value === null) return add('z');
    if (value instanceof Date) return add(`d${value.getTime()}`);
    if ((value as { _bsontype?: string })._bsontype === 'ObjectId') return add(`o${(value as ObjectId).toHexString()}`);
    if (Array.isArray(value)) {
      add('[');
      for (const element of value) if (!visit(element) || !add(',')) return false;
      return add(']');
    }
    if (!isPlainObject(value)) return false;
    add('{');
    for (const [name, inner] of Object.entries(value)) {
      if (name.startsWith('$') && !CACHEABLE_OPERATORS.has(name)) return false;
      if (!add(JSON.stringify(name)) || !add(':') || !visit(inner) || !add(',')) return false;
    }
    return add('}');
  };
  return visit(filter) ? parts.join('') : undefined;
}

/** Whether a filter holds aggregation expressions anywhere (`$expr`, possibly nested in `$and`/`$or`/`$elemMatch`). */
function usesExpressions(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(usesExpressions);
  if (!isPlainObject(value)) return false;
  return Object.entries(value).some(([key, nested]) => key === '$expr' || key === '$where' || usesExpressions(nested));
}

/** mingo compares `Long` objects as plain objects; values that fit a double become numbers. */
export function normalize<T>(value: T): T {
  if (Array.isArray(value)) return value.map(normalize) as T;
  if (isPlainObject(value)) {
    const copy: Document = {};
    for (const key of Object.keys(value)) copy[key] = normalize(value[key]);
    return copy as T;
  }
  const tagged = value as { _bsontype?: string; toNumber?: () => number; valueOf?: () => number };
  if (tagged && (tagged._bsontype === 'Long' || tagged._bsontype === 'Int32' || tagged._bsontype === 'Double')) {
    return Number(tagged.toString()) as T;
  }
  return value;
}

const UTC_ALIASES = new Set(['UTC', 'GMT', 'Z', 'Etc/UTC', 'Etc/GMT']);
const DATE_OPERATOR = /^\$date[A-Z]/;

/**
 * mingo's remaining date operators ($dateAdd, $dateDiff, …) reject `UTC`; give them an offset.
 * Only the `timezone` argument of a date operator is rewritten: a `timezone` key anywhere else
 * is a field name (`$match: { timezone: 'UTC' }` filters the sites stored with that zone).
 */
function rewriteTimezones(value: unknown, operator?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteTimezones(item));
  if (!isPlainObject(value)) return value;
  const isDateOperatorArgument = operator !== undefined && DATE_OPERATOR.test(operator);
  const copy: Document = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] =
      isDateOperatorArgument && key === 'timezone' && typeof inner === 'string' && UTC_ALIASES.has(inner)
        ? '+00:00'
        : rewriteTimezones(inner, key);
  }
  return copy;
}

/**
 * mingo's $bucket puts a value equal to an inner boundary in the lower bucket and emits empty
 * buckets; MongoDB uses [lower, upper) and omits empty ones. Rewritten as the equivalent $group.
 */
function rewriteBucket(spec: Document): Document[] {
  const boundaries = spec.boundaries as unknown[];
  const branches = boundaries.slice(0, -1).map((lower, i) => ({
    case: { $and: [{ $gte: [spec.groupBy, lower] }, { $lt: [spec.groupBy, boundaries[i + 1]] }] },
    then: lower,
  }));
  const switchExpr: Document = { branches };
  if ('default' in spec) switchExpr.default = spec.default;
  const output = isPlainObject(spec.output) ? spec.output : { count: { $sum: 1 } };
  return [{ $group: { _id: { $switch: switchExpr }, ...output } }, { $sort: { _id: 1 } }];
}

function rewriteStage(stage: Document): Document[] {
  if (isPlainObject(stage.$bucket)) return rewriteBucket(stage.$bucket);
  if (isPlainObject(stage.$facet)) {
    const facets: Document = {};
    for (const [name, sub] of Object.entries(stage.$facet)) facets[name] = rewritePipeline(sub as Document[]);
    return [{ $facet: facets }];
  }
  if (isPlainObject(stage.$lookup) && Array.isArray(stage.$lookup.pipeline)) {
    return [{ $lookup: { ...stage.$lookup, pipeline: rewritePipeline(stage.$lookup.pipeline as Document[]) } }];
  }
  return [stage];
}

export function rewritePipeline(pipeline: Document[]): Document[] {
  return (rewriteTimezones(normalize(pipeline)) as Document[]).flatMap(rewriteStage);
}

/** Runs an already rewritten pipeline over documents the caller has copied. */
export function runPipeline(
  docs: Document[],
  pipeline: Document[],
  resolver?: CollectionResolver,
  variables?: Document,
): Document[] {
  return new Aggregator(pipeline, engineOptions(resolver, variables)).run(docs) as Document[];
}
