import { describe, expect, it } from '@jest/globals';
import type { Document } from 'bson';
import fc from 'fast-check';
import { canonicalKey } from '../src/bson-order.js';
import { compileGroup, runGroup } from '../src/group-stage.js';
import { engineOptions, runPipeline } from '../src/mingo-compat.js';
import { cloneDocument } from '../src/paths.js';

/**
 * The native `$group` against mingo's on random documents, shape by shape. Where mingo 7.2 is
 * not MongoDB (it pushes missing values as null, orders `$min`/`$max` across types its own way,
 * ignores key order in objects, and its `$eq` finds a scalar inside an array), the reference is
 * adjusted or the values are drawn from a domain where both agree (`$eq` compares `k`, never an
 * array); `group.spec.ts` pins MongoDB's answers in those places.
 */

const dates = [new Date('2024-01-01T00:00:00Z'), new Date('2024-06-01T12:00:00Z')];

const scalar = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(1.5, -0.5, 2 ** 31, 2 ** 31 - 1),
  fc.constantFrom('a', 'b', '1', ''),
  fc.constant(null),
  fc.boolean(),
  fc.constantFrom(...dates),
);
/** Objects always list their keys in one order (mingo would merge `{x,y}` with `{y,x}`). */
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.record({ x: scalar, y: scalar }, { requiredKeys: ['x'] }) },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
);
/** Values `$min`/`$max` are compared on: types whose BSON order mingo gets right. */
const orderable = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0.25, 'a', 'b', null),
  fc.constantFrom(...dates),
);

const doc = fc.record(
  {
    k: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(1.0, 'a', null, true), fc.constantFrom(...dates)),
    v: value,
    m: orderable,
    // `n.a.b` reaches through an array in some documents (mingo resolves those).
    n: fc.oneof(
      fc.record({ a: fc.record({ b: value }, { requiredKeys: [] }) }, { requiredKeys: [] }),
      fc.record({ a: fc.array(fc.record({ b: scalar }, { requiredKeys: [] }), { maxLength: 2 }) }),
      scalar,
    ),
    // Shaped like a visitor count row: a count, and counts by previous day (ADR 0003).
    c: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constant(null), fc.constantFrom(...dates)),
    r: fc.oneof(
      fc.array(
        fc.record(
          {
            p: fc.constantFrom('2024-01-01', '2024-01-02', '2024-01-03'),
            n: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(null), fc.constant('x')),
          },
          { requiredKeys: ['p'] },
        ),
        { maxLength: 4 },
      ),
      fc.constant(null),
    ),
  },
  { requiredKeys: [] },
);

const KEYS: Record<string, unknown> = {
  field: '$k',
  dotted: '$n.a.b',
  constant: null,
  string: 'all',
  object: { k: '$k', b: '$n.a.b' },
  expression: { $ifNull: ['$k', 'none'] },
  ifNullOfPaths: { $ifNull: ['$k', '$n.a.b'] },
  ifNullChain: { $ifNull: ['$absent', '$k', '$v'] },
  objectWithExpression: { k: '$k', big: { $cond: [{ $gt: ['$m', 2] }, true, false] } },
};

const OPERANDS: Record<string, unknown> = {
  one: 1,
  field: '$v',
  dotted: '$n.a.b',
  orderable: '$m',
  expression: { $cond: [{ $eq: ['$k', 1] }, '$m', 0] },
  condObject: { $cond: { if: { $eq: ['$k', 'a'] }, then: true, else: { $ifNull: ['$n.a.b', '$m'] } } },
  condOnBoolean: { $cond: [{ $eq: ['$k', true] }, '$v', '$k'] },
  viaMingo: { $cond: [{ $gt: ['$m', 2] }, '$v', { $literal: '$m' }] },
  root: '$$ROOT',
  // Visitors before a range start: dates in `$add` and elements without `n` are mingo's. (mingo
  // refuses `$sum` of null where MongoDB gives 0, hence the `$ifNull`.)
  returningBefore: {
    $add: [
      '$c',
      {
        $sum: {
          $map: {
            input: { $filter: { input: { $ifNull: ['$r', []] }, as: 'e', cond: { $lt: ['$$e.p', '2024-01-03'] } } },
            as: 'e',
            in: '$$e.n',
          },
        },
      },
    ],
  },
  sumOfList: { $sum: ['$c', '$r', 2] },
  filterDefaultName: { $filter: { input: '$r', cond: { $gte: ['$$this.p', '2024-01-02'] } } },
};

const ACCUMULATORS = ['$sum', '$avg', '$first', '$last', '$push', '$addToSet', '$min', '$max'];

/** mingo pushes a missing value as null; MongoDB skips it. Wrapping keeps "missing" visible. */
function referenceSpec(accumulator: string, operand: unknown): Document {
  if (accumulator === '$push' || accumulator === '$addToSet') return { [accumulator]: { w: operand } };
  return { [accumulator]: operand };
}

function unwrapReference(accumulator: string, result: unknown): unknown {
  if (accumulator !== '$push' && accumulator !== '$addToSet') return result;
  const present = (result as Document[]).filter((entry) => entry.w !== undefined).map((entry) => entry.w as unknown);
  return accumulator === '$addToSet' ? asSet(present) : present;
}

/** MongoDB leaves the order of `$addToSet` unspecified. */
function asSet(values: unknown): unknown[] {
  return [...(values as unknown[])].sort((a, b) => (canonicalKey(a) < canonicalKey(b) ? -1 : 1));
}

function nativeGroup(docs: Document[], spec: Document): Document[] {
  const compiled = compileGroup(spec, engineOptions());
  if (!compiled) throw new Error(`not compiled natively: ${JSON.stringify(spec)}`);
  return runGroup(docs, compiled);
}

describe('native $group against mingo', () => {
  for (const [keyName, key] of Object.entries(KEYS)) {
    for (const accumulator of ACCUMULATORS) {
      for (const [operandName, operand] of Object.entries(OPERANDS)) {
        if (
          (accumulator === '$min' || accumulator === '$max') &&
          !['orderable', 'expression', 'one'].includes(operandName)
        )
          continue;
        it(`_id ${keyName}, ${accumulator} of ${operandName}`, () => {
          fc.assert(
            fc.property(fc.array(doc, { maxLength: 40 }), (docs) => {
              const native = nativeGroup(docs, { _id: key, out: { [accumulator]: operand }, count: { $sum: 1 } });
              const reference = runPipeline(docs.map(cloneDocument), [
                { $group: { _id: key, out: referenceSpec(accumulator, operand), count: { $sum: 1 } } },
              ]).map((row) => ({ ...row, out: unwrapReference(accumulator, row.out) }));
              const comparable = native.map((row) =>
                accumulator === '$addToSet' ? { ...row, out: asSet(row.out) } : row,
              );
              expect(comparable).toEqual(reference);
            }),
            { numRuns: 60 },
          );
        });
      }
    }
  }

  it('leaves other accumulators, operand arrays and bad specifications to mingo', () => {
    const options = engineOptions();
    expect(compileGroup({ _id: '$k', s: { $stdDevPop: '$v' } }, options)).toBeUndefined();
    expect(compileGroup({ _id: '$k', s: { $sum: ['$v', 1] } }, options)).toBeUndefined();
    expect(compileGroup({ _id: '$k', s: { $sum: 1, $max: 1 } }, options)).toBeUndefined();
    expect(compileGroup({ s: { $sum: 1 } }, options)).toBeUndefined();
    expect(compileGroup({ _id: '$k', 'a.b': { $sum: 1 } }, options)).toBeUndefined();
  });

  it('evaluates $map, $filter, $sum and $add itself, with MongoDB’s answers where mingo differs', () => {
    // mingo refuses `$sum` of null ($map over a missing array); MongoDB sums nothing: 0.
    const visitors = {
      $add: [
        '$fresh',
        {
          $sum: {
            $map: { input: { $filter: { input: '$r', as: 'e', cond: { $lt: ['$$e.p', 'b'] } } }, as: 'e', in: '$$e.n' },
          },
        },
      ],
    };
    const docs: Document[] = [
      {
        k: 1,
        fresh: 2,
        r: [
          { p: 'a', n: 3 },
          { p: 'b', n: 5 },
          { p: 'a', n: 'x' },
        ],
      },
      { k: 1, fresh: 1 },
      { k: 2, fresh: null, r: [{ p: 'a', n: 1 }] },
    ];
    expect(nativeGroup(docs, { _id: '$k', visitors: { $sum: visitors }, all: { $push: visitors } })).toEqual([
      { _id: 1, visitors: 6, all: [5, 1] },
      { _id: 2, visitors: 0, all: [null] },
    ]);
    // A date in `$add` is mingo's to evaluate (date arithmetic), document by document.
    const at = new Date('2024-01-01T00:00:00Z');
    expect(nativeGroup([{ d: at }, { d: 1 }], { _id: null, out: { $push: { $add: ['$d', 1000] } } })).toEqual([
      { _id: null, out: [new Date(at.getTime() + 1000), 1001] },
    ]);
  });

  it('does not take inherited properties for fields', () => {
    const docs: Document[] = [{}, { constructor: 'x' }, { toString: 1 }];
    expect(nativeGroup(docs, { _id: '$constructor', n: { $sum: 1 }, s: { $push: '$toString' } })).toEqual([
      { _id: null, n: 2, s: [1] },
      { _id: 'x', n: 1, s: [] },
    ]);
  });

  it('keeps groups apart whose key strings hold separators, and tells a missing key field from null', () => {
    const docs: Document[] = [{ a: 'x,"b":sy' }, { a: 'x', b: 'y' }, { a: 'x', b: 'y' }, { a: null }, {}];
    expect(nativeGroup(docs, { _id: { a: '$a', b: '$b' }, n: { $sum: 1 } })).toEqual([
      { _id: { a: 'x,"b":sy' }, n: 1 },
      { _id: { a: 'x', b: 'y' }, n: 2 },
      { _id: { a: null }, n: 1 },
      { _id: {}, n: 1 },
    ]);
    expect(nativeGroup([{ a: ['x,sy'] }, { a: ['x', 'y'] }], { _id: '$a', n: { $sum: 1 } })).toHaveLength(2);
  });
});
