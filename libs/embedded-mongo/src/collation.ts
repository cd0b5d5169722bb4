import type { Document } from 'bson';
import { Context } from 'mingo/core';
import * as queryOperators from 'mingo/operators/query';
import type { Options } from 'mingo/types';
import { canonicalKey, compareBson } from './bson-order.js';
import { CommandError } from './errors.js';
import { isPlainObject } from './paths.js';

/**
 * The part of MongoDB's collations the store implements: a locale with `strength` 1 (base
 * letters: case and accents ignored), 2 (accents count, case does not) or 3 (the default: case
 * counts too), every other option at its default. String comparisons then follow ICU through
 * `Intl.Collator`, as MongoDB's do, in query filters (equality, `$in`, ranges), sorts and
 * `distinct`. Anything else — another strength or option, a collation-dependent expression
 * (`$expr`), an update operator that compares array elements — is refused as NotImplemented
 * rather than run with binary comparison.
 */
export interface Collation {
  /** Orders two strings (0 when the collation deems them equal). */
  readonly compareStrings: (a: string, b: string) => number;
}

/** Options whose default the store supports, and that default. */
const DEFAULT_OPTIONS: Record<string, unknown> = {
  caseLevel: false,
  caseFirst: 'off',
  numericOrdering: false,
  alternate: 'non-ignorable',
  maxVariable: 'punct',
  backwards: false,
  normalization: false,
  version: '57.1',
};

const SENSITIVITY: Record<number, Intl.CollatorOptions['sensitivity']> = { 1: 'base', 2: 'accent', 3: 'variant' };

function notImplemented(what: string): CommandError {
  return new CommandError('NotImplemented', `the embedded store does not implement ${what}`);
}

/** The collation a command asks for; undefined for none or `{ locale: 'simple' }` (binary comparison). */
export function parseCollation(spec: unknown, path: string): Collation | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec)) {
    throw new CommandError('TypeMismatch', `BSON field '${path}' is the wrong type, expected type 'object'`);
  }
  if (typeof spec.locale !== 'string') {
    throw new CommandError('Location40414', `BSON field '${path}.locale' is missing but a required field`);
  }
  for (const [option, value] of Object.entries(spec)) {
    if (option === 'locale' || option === 'strength') continue;
    if (!(option in DEFAULT_OPTIONS))
      throw new CommandError('Location40415', `BSON field '${path}.${option}' is an unknown field.`);
    if (value !== DEFAULT_OPTIONS[option] && option !== 'version')
      throw notImplemented(`the collation option ${option}: ${JSON.stringify(value)}`);
  }
  if (spec.locale === 'simple') return undefined;
  const locale = spec.locale.replace(/_/g, '-');
  let supported: string[];
  try {
    supported = Intl.Collator.supportedLocalesOf([locale]);
  } catch {
    supported = [];
  }
  if (supported.length === 0)
    throw new CommandError('BadValue', `Field 'locale' is invalid in: ${JSON.stringify(spec)}`);
  const strength = spec.strength === undefined ? 3 : Number(spec.strength);
  if (!(strength in SENSITIVITY)) throw notImplemented(`collation strength ${String(spec.strength)}`);
  const collator = new Intl.Collator(locale, { sensitivity: SENSITIVITY[strength], usage: 'sort' });
  return { compareStrings: (a, b) => collator.compare(a, b) };
}

/** BSON order with strings compared by the collation, at any depth. */
export function compareCollated(a: unknown, b: unknown, collation: Collation | undefined): number {
  return compareBson(a, b, collation?.compareStrings);
}

function equalCollated(a: unknown, b: unknown, collation: Collation): boolean {
  if (typeof a === 'string' && typeof b === 'string') return collation.compareStrings(a, b) === 0;
  if (!containsString(a) || !containsString(b)) return canonicalKey(a) === canonicalKey(b);
  return compareCollated(a, b, collation) === 0;
}

function containsString(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (Array.isArray(value)) return value.some(containsString);
  if (isPlainObject(value)) return Object.values(value).some(containsString);
  return false;
}

/**
 * The values a query predicate sees at a dotted path, MongoDB's way: through arrays of
 * documents, and both a terminal array itself and each of its elements.
 */
function candidates(value: unknown, parts: string[], depth: number, out: unknown[]): void {
  if (depth === parts.length) {
    out.push(value);
    if (Array.isArray(value)) out.push(...value);
    return;
  }
  if (Array.isArray(value)) {
    for (const element of value) if (isPlainObject(element)) candidates(element, parts, depth, out);
    const index = Number(parts[depth]);
    if (Number.isInteger(index) && index >= 0 && index < value.length) candidates(value[index], parts, depth + 1, out);
    return;
  }
  if (isPlainObject(value) && parts[depth] in value) candidates(value[parts[depth]], parts, depth + 1, out);
}

function valuesFor(doc: unknown, selector: string): unknown[] {
  const out: unknown[] = [];
  candidates(doc, selector.split('.'), 0, out);
  return out;
}

type QueryOperator = (selector: string, value: unknown, options: Options) => (doc: unknown) => boolean;

const stock = queryOperators as unknown as Record<string, QueryOperator>;

function equality(collation: Collation): QueryOperator {
  return (selector, operand, options) => {
    if (!containsString(operand)) return stock.$eq(selector, operand, options);
    return (doc) => valuesFor(doc, selector).some((value) => equalCollated(value, operand, collation));
  };
}

function membership(collation: Collation): QueryOperator {
  return (selector, operand, options) => {
    if (!Array.isArray(operand) || !operand.some(containsString)) return stock.$in(selector, operand, options);
    const hasNull = operand.some((item) => item === null);
    return (doc) => {
      const values = valuesFor(doc, selector);
      if (hasNull && (values.length === 0 || values.some((value) => value === null))) return true;
      return values.some((value) =>
        operand.some((item) =>
          item instanceof RegExp
            ? typeof value === 'string' && item.test(value)
            : equalCollated(value, item, collation),
        ),
      );
    };
  };
}

/** `$gt` and friends with a string operand: only strings compare, by the collation. */
function range(collation: Collation, name: string, accept: (order: number) => boolean): QueryOperator {
  return (selector, operand, options) => {
    if (typeof operand !== 'string') {
      if (containsString(operand)) throw notImplemented(`${name} on a document or array under a collation`);
      return stock[name](selector, operand, options);
    }
    return (doc) =>
      valuesFor(doc, selector).some(
        (value) => typeof value === 'string' && accept(collation.compareStrings(value, operand)),
      );
  };
}

function negated(operator: QueryOperator): QueryOperator {
  return (selector, operand, options) => {
    const positive = operator(selector, operand, options);
    return (doc) => !positive(doc);
  };
}

/** A mingo context whose comparison query operators follow the collation. */
export function collatedQueryContext(collation: Collation): Context {
  const $eq = equality(collation);
  const $in = membership(collation);
  return Context.init({
    query: {
      ...queryOperators,
      $eq,
      $ne: negated($eq),
      $in,
      $nin: negated($in),
      $gt: range(collation, '$gt', (order) => order > 0),
      $gte: range(collation, '$gte', (order) => order >= 0),
      $lt: range(collation, '$lt', (order) => order < 0),
      $lte: range(collation, '$lte', (order) => order <= 0),
    } as unknown as typeof queryOperators,
  });
}

/** Filter operators whose meaning under a collation the store does not reproduce. */
const UNCOLLATED_OPERATORS = new Set(['$expr', '$where', '$jsonSchema', '$text', '$all']);

export function assertCollatableFilter(filter: unknown): void {
  if (Array.isArray(filter)) {
    filter.forEach(assertCollatableFilter);
    return;
  }
  if (!isPlainObject(filter)) return;
  for (const [key, value] of Object.entries(filter)) {
    if (UNCOLLATED_OPERATORS.has(key)) throw notImplemented(`${key} under a collation`);
    assertCollatableFilter(value);
  }
}

/** Update operators that compare values (array membership, positional matches) under a collation. */
export function assertCollatableUpdate(update: Document | Document[], arrayFilters: unknown): void {
  if (arrayFilters !== undefined) throw notImplemented('arrayFilters under a collation');
  if (Array.isArray(update)) throw notImplemented('pipeline updates under a collation');
  for (const operator of ['$pull', '$pullAll', '$addToSet']) {
    if (operator in update) throw notImplemented(`${operator} under a collation`);
  }
  for (const fields of Object.values(update)) {
    if (isPlainObject(fields) && Object.keys(fields).some((path) => path.split('.').includes('$')))
      throw notImplemented('the positional $ operator under a collation');
  }
}
