import type { Document } from 'bson';
import { Context, evalExpr } from 'mingo/core';
import type { Options } from 'mingo/types';
import { canonicalKey, compareBson } from './bson-order.js';
import { isPlainObject } from './paths.js';

/**
 * A native `$group` for the shapes Siteline's pipelines use: mingo's `$group` evaluates every
 * expression through its generic evaluator, which made it about nine times slower than a plain
 * loop and the largest cost of a rollup. Field paths and constants are read here directly;
 * other operator expressions (`$dateToString`, `$in`, …) and `$$` variables are still evaluated
 * by mingo, once per document. Anything else (other accumulators, array operands) returns
 * undefined from `compileGroup` and the whole stage stays with mingo.
 *
 * Semantics follow MongoDB where mingo 7.2 differs: keys compare as BSON values (object key
 * order matters), `$push`/`$addToSet` skip missing values, `$min`/`$max` use BSON order across
 * types. Groups come out in first-seen order, as mingo's do.
 */

/** A compiled expression: its value for one document, `undefined` when missing. */
type Evaluate = (doc: Document) => unknown;

interface Accumulator {
  add(value: unknown): void;
  result(): unknown;
}

type AccumulatorFactory = () => Accumulator;

interface CompiledGroup {
  key: Evaluate;
  /** The grouping key's identity: equal exactly for BSON-equal `_id` values. */
  identity: (id: unknown) => string;
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

function compileExpression(expr: unknown, options: Partial<Options>): Evaluate | undefined {
  if (typeof expr === 'string' && expr.startsWith('$')) {
    return expr.startsWith('$$') ? viaMingo(expr, options) : compileFieldPath(expr, options);
  }
  if (isPlainObject(expr)) {
    const keys = Object.keys(expr);
    if (keys.length === 1 && keys[0] === '$literal') {
      const literal = expr.$literal;
      return () => literal;
    }
    if (keys.some((key) => key.startsWith('$')))
      return (keys.length === 1 && compileOperator(keys[0], expr[keys[0]], options)) || viaMingo(expr, options);
    return compileObject(expr, options);
  }
  if (Array.isArray(expr) || expr instanceof RegExp) return viaMingo(expr, options);
  return () => expr;
}

/**
 * The operators Siteline's keys and counters are made of, evaluated here: `$ifNull` (what a
 * dimension is when a hit lacks it) and `$cond` on `$eq` with a constant (page view or event,
 * bot or not). Evaluating them through mingo cost more than the rest of the stage together.
 */
function compileOperator(operator: string, args: unknown, options: Partial<Options>): Evaluate | undefined {
  if (operator === '$ifNull' && Array.isArray(args) && args.length >= 2) {
    const operands = compileAll(args, options);
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
    const test = compileEqualsConstant(branches[0].$eq, options);
    const outcomes = compileAll(branches.slice(1), options);
    if (!test || !outcomes) return undefined;
    const [then, otherwise] = outcomes;
    return (doc) => (test(doc) ? then(doc) : otherwise(doc));
  }
  return undefined;
}

function compileAll(exprs: unknown[], options: Partial<Options>): Evaluate[] | undefined {
  const compiled = exprs.map((expr) => compileExpression(expr, options));
  return compiled.every((evaluate) => evaluate !== undefined) ? (compiled as Evaluate[]) : undefined;
}

/**
 * `$eq: [expr, constant]` for a string, boolean or (non-NaN) number constant: equal exactly when
 * the value is that very scalar. Other comparisons (with null, missing, objects) stay with mingo.
 */
function compileEqualsConstant(args: unknown, options: Partial<Options>): Evaluate | undefined {
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const [expr, constant] = args as [unknown, unknown];
  const isScalar =
    (typeof constant === 'string' && !constant.startsWith('$')) ||
    typeof constant === 'boolean' ||
    (typeof constant === 'number' && !Number.isNaN(constant));
  const evaluate = isScalar ? compileExpression(expr, options) : undefined;
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
function compileObject(spec: Document, options: Partial<Options>): Evaluate | undefined {
  const fields: Array<[string, Evaluate]> = [];
  for (const [name, inner] of Object.entries(spec)) {
    const evaluate = compileExpression(inner, options);
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
  const evaluate = compileExpression(expr, options);
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
  const operand = compileExpression(spec[keys[0]], options);
  return operand && { operand, create: ACCUMULATORS[keys[0]] };
}

/** The native plan for a `$group` specification, or undefined when mingo must run it. */
export function compileGroup(spec: unknown, options: Partial<Options>): CompiledGroup | undefined {
  if (!isPlainObject(spec) || !('_id' in spec)) return undefined;
  const key = compileKey(spec._id, options);
  if (!key) return undefined;
  const fields: CompiledGroup['fields'] = [];
  for (const [name, accumulator] of Object.entries(spec)) {
    if (name === '_id') continue;
    if (name.includes('.') || name.startsWith('$')) return undefined;
    const compiled = compileAccumulator(accumulator, options);
    if (!compiled) return undefined;
    fields.push({ name, ...compiled });
  }
  return { key, identity: canonicalKey, fields };
}

/** Runs a compiled `$group` over documents; groups come out in the order their first document came. */
export function runGroup(docs: Document[], group: CompiledGroup): Document[] {
  const groups = new Map<string, { id: unknown; accumulators: Accumulator[] }>();
  const { fields } = group;
  for (const doc of docs) {
    const id = group.key(doc);
    const identity = typeof id === 'string' ? `s${id}` : group.identity(id);
    let entry = groups.get(identity);
    if (!entry) {
      entry = { id, accumulators: fields.map((field) => field.create()) };
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
