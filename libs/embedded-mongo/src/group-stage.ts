import type { Document } from 'bson';
import { Context, evalExpr } from 'mingo/core';
import type { Options } from 'mingo/types';
import { canonicalKey, compareBson } from './bson-order.js';
import { isPlainObject } from './paths.js';

/**
 * A native `$group` for the shapes Siteline's pipelines use: mingo's `$group` evaluates every
 * expression through its generic evaluator, which made it about nine times slower than a plain
 * loop and the largest cost of a rollup. Field paths, constants and the operators below are
 * evaluated here directly; other operator expressions (`$dateToString`, `$in`, …) and `$$`
 * variables other than a `$map`/`$filter` element are still evaluated by mingo, once per
 * document. Anything else (other accumulators, array operands) returns undefined from
 * `compileGroup` and the whole stage stays with mingo.
 *
 * Semantics follow MongoDB where mingo 7.2 differs: keys compare as BSON values (object key
 * order matters), `$push`/`$addToSet` skip missing values, `$min`/`$max` use BSON order across
 * types. Groups come out in first-seen order, as mingo's do.
 */

/** A compiled expression: its value for one document, `undefined` when missing. */
type Evaluate = (doc: Document) => unknown;

/**
 * Thrown by a compiled operator that meets a value it leaves to mingo (a date in `$add`, a
 * `Decimal128` in `$sum`, a `$map` over a non-array, …): the accumulator or key that contains it
 * is then evaluated by mingo for that document, so such values keep mingo's answer or error.
 */
const NOT_NATIVE = Symbol('not native');

/**
 * Variables bound by the enclosing `$map`/`$filter` (`as`), by name: the operator sets a cell's
 * value before evaluating its body for each element. Inside one, an expression this file cannot
 * compile makes the whole expression mingo's (mingo would not know the element's variable).
 */
type Scope = ReadonlyMap<string, { value: unknown }>;
const NO_VARIABLES: Scope = new Map();

interface Accumulator {
  add(value: unknown): void;
  result(): unknown;
}

type AccumulatorFactory = () => Accumulator;

interface CompiledGroup {
  /** A document's group identity: equal exactly when the documents' `_id` values are BSON-equal. */
  identify: (doc: Document) => string;
  /** The `_id` of the document `identify` last saw (asked for once per group, when it opens). */
  lastKey: () => unknown;
  fields: Array<{ name: string; operand: Evaluate; create: AccumulatorFactory }>;
}

const ACCUMULATORS: Record<string, AccumulatorFactory> = {
  $sum: () => {
    let total = 0;
    return {
      add: (value) => {
        if (typeof value === 'number') total += value;
      },
      result: () => total,
    };
  },
  $avg: () => {
    let total = 0;
    let count = 0;
    return {
      add: (value) => {
        if (typeof value === 'number') {
          total += value;
          count++;
        }
      },
      result: () => (count === 0 ? null : total / count),
    };
  },
  $min: () => extremum(-1),
  $max: () => extremum(1),
  $first: () => {
    let seen = false;
    let first: unknown = null;
    return {
      add: (value) => {
        if (seen) return;
        seen = true;
        first = value ?? null;
      },
      result: () => first,
    };
  },
  $last: () => {
    let last: unknown = null;
    return {
      add: (value) => {
        last = value ?? null;
      },
      result: () => last,
    };
  },
  $push: () => {
    const values: unknown[] = [];
    return {
      add: (value) => {
        if (value !== undefined) values.push(value);
      },
      result: () => values,
    };
  },
  $addToSet: () => {
    const seen = new Set<string>();
    const values: unknown[] = [];
    return {
      add: (value) => {
        if (value === undefined) return;
        const identity = canonicalKey(value);
        if (seen.has(identity)) return;
        seen.add(identity);
        values.push(value);
      },
      result: () => values,
    };
  },
};

/** `$min` (direction -1) or `$max` (1) in BSON order; null and missing count only when nothing else came. */
function extremum(direction: 1 | -1): Accumulator {
  let best: unknown = undefined;
  return {
    add: (value) => {
      if (value === undefined || value === null) return;
      if (best === undefined || compareBson(value, best) * direction > 0) best = value;
    },
    result: () => best ?? null,
  };
}

/** Names an inherited property could answer for (`{}.constructor`); such paths stay with mingo. */
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

function compileExpression(expr: unknown, options: Partial<Options>, scope = NO_VARIABLES): Evaluate | undefined {
  // mingo evaluates a part with the document as `$$ROOT` only: never inside a `$map`/`$filter`.
  const mingo = (): Evaluate | undefined => (scope.size === 0 ? viaMingo(expr, options) : undefined);
  if (typeof expr === 'string' && expr.startsWith('$')) {
    if (!expr.startsWith('$$')) return compileFieldPath(expr, options);
    return compileVariable(expr, scope) ?? mingo();
  }
  if (isPlainObject(expr)) {
    const keys = Object.keys(expr);
    if (keys.length === 1 && keys[0] === '$literal') {
      const literal = expr.$literal;
      return () => literal;
    }
    if (keys.some((key) => key.startsWith('$')))
      return (keys.length === 1 && compileOperator(keys[0], expr[keys[0]], options, scope)) || mingo();
    return compileObject(expr, options, scope);
  }
  if (Array.isArray(expr) || expr instanceof RegExp) return mingo();
  return () => expr;
}

/**
 * An expression whose compiled form may throw NOT_NATIVE, evaluated by mingo for the documents
 * where it does (mingo's options are prepared on the first such document).
 */
function withMingoFallback(evaluate: Evaluate, expr: unknown, options: Partial<Options>): Evaluate {
  let mingo: Evaluate | undefined;
  return (doc) => {
    try {
      return evaluate(doc);
    } catch (error) {
      if (error !== NOT_NATIVE) throw error;
      mingo ??= viaMingo(expr, options);
      return mingo(doc);
    }
  };
}

/** `$$name` or `$$name.a.b` for a variable the enclosing `$map`/`$filter` binds. */
function compileVariable(expr: string, scope: Scope): Evaluate | undefined {
  const [name, ...path] = expr.slice(2).split('.');
  const cell = scope.get(name);
  if (!cell || path.some((part) => part === '' || PROTOTYPE_NAMES.has(part))) return undefined;
  if (path.length === 0) return () => cell.value;
  return () => {
    let current = cell.value;
    for (const part of path) {
      if (Array.isArray(current)) throw NOT_NATIVE;
      if (!isPlainObject(current)) return undefined;
      current = current[part];
    }
    return current;
  };
}

/**
 * The operators Siteline's keys and counters are made of, evaluated here: `$ifNull` (what a
 * dimension is when a hit lacks it), `$cond` on `$eq` with a constant (page view or event, bot
 * or not), and the arithmetic of the visitor counts (`$add`, `$sum` of a `$map` over a
 * `$filter` by a comparison: ADR 0003's returning visitors before a range). Evaluating them
 * through mingo cost more than the rest of the stage together.
 */
function compileOperator(
  operator: string,
  args: unknown,
  options: Partial<Options>,
  scope: Scope,
): Evaluate | undefined {
  if (operator === '$add' && Array.isArray(args)) return compileAdd(compileAll(args, options, scope));
  if (operator === '$sum') return compileSum(args, options, scope);
  if (operator === '$map' || operator === '$filter') return compileArrayOperator(operator, args, options, scope);
  if (Object.hasOwn(COMPARISONS, operator) && Array.isArray(args) && args.length === 2) {
    const operands = compileAll(args, options, scope);
    if (!operands) return undefined;
    const [left, right] = operands;
    const holds = COMPARISONS[operator];
    return (doc) => {
      const a = left(doc);
      const b = right(doc);
      // MongoDB orders a missing operand below null; mingo is left to say what it does.
      if (a === undefined || b === undefined) throw NOT_NATIVE;
      return holds(compareBson(a, b));
    };
  }
  if (operator === '$ifNull' && Array.isArray(args) && args.length >= 2) {
    const operands = compileAll(args, options, scope);
    if (!operands) return undefined;
    const replacement = operands.pop()!;
    return (doc) => {
      for (const operand of operands) {
        const value = operand(doc);
        if (value !== undefined && value !== null) return value;
      }
      return replacement(doc);
    };
  }
  if (operator === '$cond') {
    const branches = Array.isArray(args)
      ? args
      : isPlainObject(args) && Object.keys(args).sort().join() === 'else,if,then'
        ? [args.if, args.then, args.else]
        : [];
    if (branches.length !== 3 || !isPlainObject(branches[0]) || Object.keys(branches[0]).join() !== '$eq')
      return undefined;
    const test = compileEqualsConstant(branches[0].$eq, options, scope);
    const outcomes = compileAll(branches.slice(1), options, scope);
    if (!test || !outcomes) return undefined;
    const [then, otherwise] = outcomes;
    return (doc) => (test(doc) ? then(doc) : otherwise(doc));
  }
  return undefined;
}

function compileAll(exprs: unknown[], options: Partial<Options>, scope: Scope): Evaluate[] | undefined {
  const compiled = exprs.map((expr) => compileExpression(expr, options, scope));
  return compiled.every((evaluate) => evaluate !== undefined) ? (compiled as Evaluate[]) : undefined;
}

const COMPARISONS: Record<string, (order: number) => boolean> = {
  $lt: (order) => order < 0,
  $lte: (order) => order <= 0,
  $gt: (order) => order > 0,
  $gte: (order) => order >= 0,
};

/** A JavaScript number, or NOT_NATIVE for a BSON number class (`Long`, `Decimal128`, …) mingo handles. */
function isPlainNumber(value: unknown): value is number {
  if (typeof value === 'number') return true;
  if (typeof value === 'object' && value !== null && '_bsontype' in value) throw NOT_NATIVE;
  return false;
}

/** `$add` of numbers; null or missing anywhere gives null; dates and other values are mingo's. */
function compileAdd(operands: Evaluate[] | undefined): Evaluate | undefined {
  if (!operands) return undefined;
  return (doc) => {
    let total = 0;
    let nullish = false;
    for (const operand of operands) {
      const value = operand(doc);
      if (value === undefined || value === null) nullish = true;
      else if (typeof value === 'number') total += value;
      else throw NOT_NATIVE;
    }
    return nullish ? null : total;
  };
}

/**
 * `$sum` as an expression: of one operand, the numbers of an array (or the number itself); of a
 * list of operands, their numeric values (arrays among them are not looked into). Non-numbers
 * count as nothing, an empty sum is 0.
 */
function compileSum(args: unknown, options: Partial<Options>, scope: Scope): Evaluate | undefined {
  const list = Array.isArray(args);
  const operands = compileAll(list ? args : [args], options, scope);
  if (!operands) return undefined;
  return (doc) => {
    let total = 0;
    for (const operand of operands) {
      const value = operand(doc);
      if (!list && Array.isArray(value)) {
        for (const element of value) if (isPlainNumber(element)) total += element;
      } else if (isPlainNumber(value)) total += value;
    }
    return total;
  };
}

/** MongoDB's truthiness for a `$filter` condition: false, null, missing and 0 are false. */
function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) throw NOT_NATIVE;
    return value !== 0;
  }
  if (typeof value === 'object' && '_bsontype' in value) throw NOT_NATIVE;
  return true;
}

/**
 * `$map: { input, as, in }` and `$filter: { input, as, cond }` (no `limit`) over an array; a null
 * or missing input gives null. The element is bound to `as` (default `this`) while the body runs.
 */
function compileArrayOperator(
  operator: '$map' | '$filter',
  args: unknown,
  options: Partial<Options>,
  scope: Scope,
): Evaluate | undefined {
  const bodyName = operator === '$map' ? 'in' : 'cond';
  if (!isPlainObject(args) || Object.keys(args).some((key) => !['input', 'as', bodyName].includes(key)))
    return undefined;
  const name = args.as ?? 'this';
  if (typeof name !== 'string' || !(bodyName in args)) return undefined;
  const input = compileExpression(args.input, options, scope);
  const cell = { value: undefined as unknown };
  const body = compileExpression(args[bodyName], options, new Map([...scope, [name, cell]]));
  if (!input || !body) return undefined;
  return (doc) => {
    const elements = input(doc);
    if (elements === undefined || elements === null) return null;
    if (!Array.isArray(elements)) throw NOT_NATIVE;
    const out: unknown[] = [];
    for (const element of elements) {
      cell.value = element;
      const value = body(doc);
      if (operator === '$filter') {
        if (truthy(value)) out.push(element);
      } else if (value === undefined) {
        throw NOT_NATIVE;
      } else out.push(value);
    }
    return out;
  };
}

/**
 * `$eq: [expr, constant]` for a string, boolean or (non-NaN) number constant: equal exactly when
 * the value is that very scalar. Other comparisons (with null, missing, objects) stay with mingo.
 */
function compileEqualsConstant(args: unknown, options: Partial<Options>, scope: Scope): Evaluate | undefined {
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const [expr, constant] = args as [unknown, unknown];
  const isScalar =
    (typeof constant === 'string' && !constant.startsWith('$')) ||
    typeof constant === 'boolean' ||
    (typeof constant === 'number' && !Number.isNaN(constant));
  const evaluate = isScalar ? compileExpression(expr, options, scope) : undefined;
  return evaluate && ((doc) => evaluate(doc) === constant);
}

/** An operator expression, evaluated by mingo per document with that document as `$$ROOT`. */
function viaMingo(expr: unknown, options: Partial<Options>): Evaluate {
  const reusable = reusableOptions(options);
  return (doc) => evalExpr(doc, expr, reusable.update({ root: doc }));
}

type ReusableOptions = Options & { update(locals: { root: unknown }): Options };

/**
 * mingo turns plain options into its internal `ComputeOptions` on every `evalExpr` call, copying
 * the whole operator context each time: that alone made a per-document expression slower than
 * mingo's own `$group`. The class is not exported, so an operator hands us the instance it is
 * called with, which is then re-rooted per document (as mingo's `$group` does with its own).
 */
function reusableOptions(options: Partial<Options>): ReusableOptions {
  let captured: ReusableOptions | undefined;
  const context = Context.from(options.context ?? Context.init()).addExpressionOps({
    $groupStageOptions: (_doc: unknown, _args: unknown, computeOptions: Options) => {
      captured = computeOptions as ReusableOptions;
      return null;
    },
  } as unknown as Parameters<Context['addExpressionOps']>[0]);
  evalExpr({}, { $groupStageOptions: null }, { ...options, context } as Options);
  if (!captured) throw new Error('mingo did not evaluate the options probe');
  return captured;
}

/**
 * `$a.b.c`: plain objects are walked directly; a path crossing an array (`$items.price` gives
 * every element's price) is resolved by mingo for that document.
 */
function compileFieldPath(path: string, options: Partial<Options>): Evaluate {
  const parts = path.slice(1).split('.');
  if (parts.some((part) => part === '' || PROTOTYPE_NAMES.has(part))) return viaMingo(path, options);
  const throughArrays = viaMingo(path, options);
  if (parts.length === 1) {
    const [name] = parts;
    return (doc) => doc[name];
  }
  return (doc) => {
    let current: unknown = doc;
    for (const part of parts) {
      if (Array.isArray(current)) return throughArrays(doc);
      if (!isPlainObject(current)) return undefined;
      current = current[part];
    }
    return current;
  };
}

/** `{ a: <expr>, … }`: fields that evaluate to missing are left out, as MongoDB does. */
function compileObject(spec: Document, options: Partial<Options>, scope: Scope): Evaluate | undefined {
  const fields: Array<[string, Evaluate]> = [];
  for (const [name, inner] of Object.entries(spec)) {
    const evaluate = compileExpression(inner, options, scope);
    if (!evaluate) return undefined;
    fields.push([name, evaluate]);
  }
  return (doc) => {
    const result: Document = {};
    for (const [name, evaluate] of fields) {
      const value = evaluate(doc);
      if (value !== undefined) result[name] = value;
    }
    return result;
  };
}

/** The `_id` of a group: missing becomes null, like MongoDB's `_id: '$absent'`. */
function compileKey(expr: unknown, options: Partial<Options>): Evaluate | undefined {
  const compiled = compileExpression(expr, options);
  const evaluate = compiled && withMingoFallback(compiled, expr, options);
  return evaluate && ((doc) => evaluate(doc) ?? null);
}

function compileAccumulator(
  spec: unknown,
  options: Partial<Options>,
): Omit<CompiledGroup['fields'][number], 'name'> | undefined {
  if (!isPlainObject(spec)) return undefined;
  const keys = Object.keys(spec);
  // MongoDB rejects an array operand ("unary operator"); mingo reports that, not this stage.
  if (keys.length !== 1 || !Object.hasOwn(ACCUMULATORS, keys[0]) || Array.isArray(spec[keys[0]])) return undefined;
  const compiled = compileExpression(spec[keys[0]], options);
  return compiled && { operand: withMingoFallback(compiled, spec[keys[0]], options), create: ACCUMULATORS[keys[0]] };
}

type GroupKey = Pick<CompiledGroup, 'identify' | 'lastKey'>;

/** A value's identity as one part of a longer key: length-prefixed, so parts never run together. */
function keyPart(value: unknown): string {
  const key = typeof value === 'string' ? `s${value}` : canonicalKey(value);
  return `${key.length}:${key}`;
}

/**
 * `_id: { a: '$a', b: … }`, the shape of every dimension key: the identity is built from the
 * fields' values directly and the `_id` document only once per group, not once per document
 * (building and then serialising a key object per row was a third of a rollup read's time).
 * Fields that evaluate to missing are left out of the `_id`, as MongoDB does.
 */
function compileFieldsKey(spec: Document, options: Partial<Options>): GroupKey | undefined {
  const names = Object.keys(spec);
  if (names.length === 0 || names.some((name) => name.startsWith('$'))) return undefined;
  const evaluators: Evaluate[] = [];
  for (const name of names) {
    const compiled = compileExpression(spec[name], options);
    if (!compiled) return undefined;
    evaluators.push(withMingoFallback(compiled, spec[name], options));
  }
  const values: unknown[] = new Array(names.length);
  return {
    identify: (doc) => {
      let identity = '{';
      for (let i = 0; i < evaluators.length; i++) {
        const value = evaluators[i](doc);
        values[i] = value;
        identity += value === undefined ? '-' : keyPart(value);
      }
      return identity;
    },
    lastKey: () => {
      const id: Document = {};
      for (let i = 0; i < names.length; i++) if (values[i] !== undefined) id[names[i]] = values[i];
      return id;
    },
  };
}

function compileGroupKey(expr: unknown, options: Partial<Options>): GroupKey | undefined {
  if (isPlainObject(expr)) {
    const fields = compileFieldsKey(expr, options);
    if (fields) return fields;
  }
  const key = compileKey(expr, options);
  if (!key) return undefined;
  let last: unknown;
  return {
    identify: (doc) => {
      last = key(doc);
      return typeof last === 'string' ? `s${last}` : canonicalKey(last);
    },
    lastKey: () => last,
  };
}

/** The native plan for a `$group` specification, or undefined when mingo must run it. */
export function compileGroup(spec: unknown, options: Partial<Options>): CompiledGroup | undefined {
  if (!isPlainObject(spec) || !('_id' in spec)) return undefined;
  const key = compileGroupKey(spec._id, options);
  if (!key) return undefined;
  const fields: CompiledGroup['fields'] = [];
  for (const [name, accumulator] of Object.entries(spec)) {
    if (name === '_id') continue;
    if (name.includes('.') || name.startsWith('$')) return undefined;
    const compiled = compileAccumulator(accumulator, options);
    if (!compiled) return undefined;
    fields.push({ name, ...compiled });
  }
  return { ...key, fields };
}

/** Runs a compiled `$group` over documents; groups come out in the order their first document came. */
export function runGroup(docs: Document[], group: CompiledGroup): Document[] {
  const groups = new Map<string, { id: unknown; accumulators: Accumulator[] }>();
  const { fields } = group;
  for (const doc of docs) {
    const identity = group.identify(doc);
    let entry = groups.get(identity);
    if (!entry) {
      entry = { id: group.lastKey(), accumulators: fields.map((field) => field.create()) };
      groups.set(identity, entry);
    }
    for (let i = 0; i < fields.length; i++) entry.accumulators[i].add(fields[i].operand(doc));
  }
  const out: Document[] = [];
  for (const { id, accumulators } of groups.values()) {
    const result: Document = { _id: id };
    for (let i = 0; i < fields.length; i++) result[fields[i].name] = accumulators[i].result();
    out.push(result);
  }
  return out;
}
