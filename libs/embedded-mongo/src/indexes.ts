import type { Document } from 'bson';
import type { DocumentSlot } from './catalog.js';
import type { Query } from 'mingo/query';
import { canonicalKey, compareBson } from './bson-order.js';
import { parseCollation } from './collation.js';
import { CommandError } from './errors.js';
import { compileFilter } from './mingo-compat.js';
import { isPlainObject, valuesAtPath } from './paths.js';
import { SortedList } from './sorted-list.js';

/** One index entry: the key tuple (one value per indexed field), the owning document's id key and its slot. */
export interface IndexEntry {
  readonly key: unknown[];
  readonly id: string;
  readonly slot: DocumentSlot;
}

/** The index document as listIndexes returns it (`v`, `key`, `name` plus any options). */
export type IndexSpec = Document & { key: Document; name: string };

const KNOWN_OPTIONS = new Set([
  'v',
  'key',
  'name',
  'unique',
  'sparse',
  'partialFilterExpression',
  'expireAfterSeconds',
  'background',
  'collation',
  'hidden',
  'weights',
  'default_language',
  'language_override',
  'textIndexVersion',
  '2dsphereIndexVersion',
  'bits',
  'min',
  'max',
  'wildcardProjection',
  'ns',
]);

/** Default index name MongoDB derives from a key pattern: `{a:1,b:-1}` → `a_1_b_-1`. */
export function defaultIndexName(key: Document): string {
  return Object.entries(key)
    .map(([field, direction]) => `${field}_${String(direction)}`)
    .join('_');
}

export function validateIndexSpec(spec: Document): IndexSpec {
  if (!isPlainObject(spec.key) || Object.keys(spec.key).length === 0) {
    throw new CommandError('BadValue', "Error in specification: the 'key' field must be a non-empty object");
  }
  for (const option of Object.keys(spec)) {
    if (!KNOWN_OPTIONS.has(option)) {
      throw new CommandError(
        'InvalidOptions',
        `Error in specification ${JSON.stringify(spec)} :: caused by :: The field '${option}' is not valid for an index specification.`,
      );
    }
  }
  if (parseCollation(spec.collation, 'collation') !== undefined) {
    throw new CommandError('NotImplemented', 'the embedded store does not implement indexes with a collation');
  }
  const name = typeof spec.name === 'string' ? spec.name : defaultIndexName(spec.key);
  const { ns: _ns, background: _background, ...rest } = spec;
  return { v: 2, ...rest, key: spec.key, name };
}

/** Renders a key value the way MongoDB's E11000 message does, e.g. `{ email: "a@b.c" }`. */
function shell(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (Array.isArray(value)) return `[ ${value.map(shell).join(', ')} ]`;
  if (isPlainObject(value)) {
    const inner = Object.entries(value).map(([k, v]) => `${k}: ${shell(v)}`);
    return inner.length ? `{ ${inner.join(', ')} }` : '{}';
  }
  const tagged = value as { _bsontype?: string; toHexString?: () => string };
  if (tagged._bsontype === 'ObjectId' && tagged.toHexString) return `ObjectId('${tagged.toHexString()}')`;
  return String(value);
}

export class Index {
  readonly spec: IndexSpec;
  readonly fields: string[];
  private readonly paths: string[][];
  /** Every key path is a top-level field (no dots): `topLevelKey` can compute the common key. */
  private readonly topLevelFields: boolean;
  readonly directions: number[];
  readonly unique: boolean;
  readonly sparse: boolean;
  private readonly partial: Query | undefined;
  private readonly entries: SortedList<IndexEntry>;
  /** Set once any document contributes an array value; range bounds then may not be intersected. */
  multikey = false;
  /**
   * The top-level fields a document's keys in this index depend on (its key paths' first
   * segments and the fields its partial filter reads), or undefined when that cannot be told.
   */
  readonly dependsOn: readonly string[] | undefined;

  constructor(spec: IndexSpec) {
    this.spec = spec;
    this.fields = Object.keys(spec.key);
    this.paths = this.fields.map((field) => field.split('.'));
    this.topLevelFields = this.paths.length > 0 && this.paths.every((path) => path.length === 1);
    this.directions = this.fields.map((field) => (spec.key[field] === -1 ? -1 : 1));
    this.unique = spec.unique === true;
    this.sparse = spec.sparse === true;
    this.partial = isPlainObject(spec.partialFilterExpression)
      ? compileFilter(spec.partialFilterExpression)
      : undefined;
    const fields = new Set(this.paths.map((path) => path[0]));
    this.dependsOn =
      this.partial && !filterFields(spec.partialFilterExpression as Document, fields) ? undefined : [...fields];
    this.entries = new SortedList<IndexEntry>(
      (a, b) => this.compareKeys(a.key, b.key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  get name(): string {
    return this.spec.name;
  }

  /** Only full (non-sparse, non-partial) indexes contain every document, so only they may narrow queries. */
  get coversAllDocuments(): boolean {
    return !this.sparse && this.partial === undefined;
  }

  get expireAfterSeconds(): number | undefined {
    return typeof this.spec.expireAfterSeconds === 'number' ? this.spec.expireAfterSeconds : undefined;
  }

  compareKeys(a: unknown[], b: unknown[]): number {
    for (let i = 0; i < this.fields.length; i++) {
      const c = compareBson(a[i], b[i]) * this.directions[i];
      if (c !== 0) return c;
    }
    return 0;
  }

  /** Compares the first `bound.length` components of `key` with `bound`. */
  compareToBound(key: unknown[], bound: unknown[]): number {
    for (let i = 0; i < bound.length; i++) {
      const c = compareBson(key[i], bound[i]) * this.directions[i];
      if (c !== 0) return c;
    }
    return 0;
  }

  /**
   * Whether `next` has the keys `previous` has in this index because every field they depend on
   * holds the same value in both (the same value object, or equal dates): an update that left
   * these fields alone needs no key computed, compared or checked for uniqueness (the document
   * already held these keys). False whenever that cannot be told so cheaply.
   */
  sameFieldsIn(previous: Document, next: Document): boolean {
    if (!this.dependsOn) return false;
    for (const field of this.dependsOn) {
      const before = previous[field] as unknown;
      const after = next[field] as unknown;
      if (before === undefined || after === undefined) {
        // Missing and present-but-undefined differ for sparse and partial indexes.
        if (before !== after || Object.hasOwn(previous, field) !== Object.hasOwn(next, field)) return false;
      } else if (!Object.is(before, after)) {
        if (!(before instanceof Date && after instanceof Date && before.getTime() === after.getTime())) return false;
      }
    }
    return true;
  }

  /** Key tuples a document contributes (several for multikey fields; none when sparse/partial excludes it). */
  keysFor(doc: Document): unknown[][] {
    if (this.partial && !this.partial.test(doc)) return [];
    if (this.topLevelFields) {
      const key = this.topLevelKey(doc);
      if (key) return key.length === 0 ? [] : [key];
    }
    let anyPresent = false;
    let single = true;
    const perField = this.paths.map((path) => {
      const values = valuesAtPath(doc, path);
      if (values.length === 0) return [null];
      anyPresent = true;
      if (values.length > 1) single = false;
      return values.map((value) => (value === undefined ? null : value));
    });
    if (this.sparse && !anyPresent) return [];
    // The common case: one value per field, one key.
    if (single) return [perField.map((values) => values[0])];
    this.multikey = true;
    let tuples: unknown[][] = [[]];
    for (const values of perField) {
      tuples = tuples.flatMap((prefix) => dedupe(values).map((value) => [...prefix, value]));
    }
    return tuples;
  }

  /**
   * `keysFor`'s key when every key path is one top-level field and none holds an array (an empty
   * list for a sparse index that holds none of them), without the per-field value lists the
   * general path builds for dotted and multikey paths; undefined when a field holds an array.
   * Computing keys is on every insert and replacement, once per index, so those lists were a
   * good part of what the store allocated per written document.
   */
  private topLevelKey(doc: Document): unknown[] | undefined {
    if (!isPlainObject(doc)) return undefined;
    const key = new Array<unknown>(this.fields.length);
    let anyPresent = false;
    for (let i = 0; i < this.fields.length; i++) {
      const field = this.fields[i];
      // `in`, as the general path's `valuesAtPath` tests a step: present-but-undefined is null, not missing.
      if (!(field in doc)) {
        key[i] = null;
        continue;
      }
      anyPresent = true;
      const value = doc[field] as unknown;
      if (Array.isArray(value)) return undefined;
      key[i] = value === undefined ? null : value;
    }
    return this.sparse && !anyPresent ? [] : key;
  }

  /** Throws the E11000 error if another document already holds one of `keys`. */
  assertUnique(ns: string, keys: unknown[][], id: string): void {
    if (!this.unique) return;
    for (const key of keys) {
      let taken = false;
      this.entries.forEachInRange(
        (e) => this.compareKeys(e.key, key) >= 0,
        (e) => this.compareKeys(e.key, key) === 0,
        (e) => (taken ||= e.id !== id),
      );
      if (taken) throw this.duplicateError(ns, key);
    }
  }

  duplicateError(ns: string, key: unknown[]): CommandError {
    const keyValue: Document = {};
    this.fields.forEach((field, i) => (keyValue[field] = key[i]));
    const shown = `{ ${this.fields.map((field, i) => `${field}: ${shell(key[i])}`).join(', ')} }`;
    return new CommandError(
      'DuplicateKey',
      `E11000 duplicate key error collection: ${ns} index: ${this.name} dup key: ${shown}`,
      {
        keyPattern: this.spec.key,
        keyValue,
      },
    );
  }

  /** Whether two key lists (as `keysFor` returns them) hold the same keys in the same order. */
  sameKeys(a: unknown[][], b: unknown[][]): boolean {
    return a.length === b.length && a.every((key, i) => this.compareKeys(key, b[i]) === 0);
  }

  add(keys: unknown[][], id: string, slot: DocumentSlot): void {
    for (const key of keys) this.entries.insert({ key, id, slot });
  }

  remove(keys: unknown[][], id: string): void {
    for (const key of keys) this.entries.remove({ key, id } as IndexEntry, (entry) => entry.id === id);
  }

  /** Visits all entries in key order (or reverse) until `visit` returns false. */
  walk(reverse: boolean, visit: (entry: IndexEntry) => boolean): void {
    this.entries.walk(reverse, visit);
  }

  /** Visits entries between two key bounds (prefixes of the key) in index order. */
  scan(
    start: unknown[],
    startInclusive: boolean,
    end: unknown[],
    endInclusive: boolean,
    visit: (entry: IndexEntry) => void,
  ): void {
    this.entries.forEachInRange(...this.bounds(start, startInclusive, end, endInclusive), visit);
  }

  /** The entries `scan` visits, lazily (the index must not change meanwhile). */
  range(start: unknown[], startInclusive: boolean, end: unknown[], endInclusive: boolean): Generator<IndexEntry> {
    return this.entries.range(...this.bounds(start, startInclusive, end, endInclusive));
  }

  /** How many entries `scan` with the same bounds would visit, without visiting them. */
  count(start: unknown[], startInclusive: boolean, end: unknown[], endInclusive: boolean): number {
    return this.entries.countInRange(...this.bounds(start, startInclusive, end, endInclusive));
  }

  private bounds(
    start: unknown[],
    startInclusive: boolean,
    end: unknown[],
    endInclusive: boolean,
  ): [(entry: IndexEntry) => boolean, (entry: IndexEntry) => boolean] {
    return [
      (e) => {
        const c = this.compareToBound(e.key, start);
        return c > 0 || (c === 0 && startInclusive);
      },
      (e) => {
        const c = this.compareToBound(e.key, end);
        return c < 0 || (c === 0 && endInclusive);
      },
    ];
  }
}

/**
 * Adds to `fields` the top-level fields a partial filter reads: its field names' first segments,
 * through `$and`/`$or`/`$nor`. False for anything else at a filter's top level (`$expr`, …).
 */
function filterFields(filter: Document, fields: Set<string>): boolean {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(value)) return false;
      for (const clause of value) if (!isPlainObject(clause) || !filterFields(clause, fields)) return false;
    } else if (key.startsWith('$')) return false;
    else fields.add(key.split('.')[0]);
  }
  return true;
}

function dedupe(values: unknown[]): unknown[] {
  if (values.length < 2) return values;
  const seen = new Map<string, unknown>();
  for (const value of values) seen.set(canonicalKey(value), value);
  return [...seen.values()];
}
