import { describe, expect, it } from '@jest/globals';
import { ObjectId, type Document } from 'bson';
import fc from 'fast-check';
import { compareBson } from '../src/bson-order.js';
import { Catalog } from '../src/catalog.js';
import { compileFilter } from '../src/mingo-compat.js';
import { planScan } from '../src/planner.js';
import { SortedList } from '../src/sorted-list.js';

/** Unit properties of the index machinery (embedded store only; no server involved). */

/** The documents the planner would hand to the filter, or undefined when no index helps. */
function planCandidates(collection: Parameters<typeof planScan>[0], filter: Document): Document[] | undefined {
  const plan = planScan(collection, filter);
  return plan && [...plan.documents];
}

describe('SortedList', () => {
  it('stays sorted and finds what was inserted, through inserts and removals', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 5000 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (values, removals) => {
          const list = new SortedList<{ v: number; id: number }>((a, b) => a.v - b.v || a.id - b.id);
          const model = values.map((v, id) => ({ v, id }));
          for (const item of model) list.insert(item);
          for (const r of removals) {
            if (model.length === 0) break;
            const [victim] = model.splice(r % model.length, 1);
            expect(list.remove(victim, (e) => e.id === victim.id)).toBe(true);
          }
          model.sort((a, b) => a.v - b.v || a.id - b.id);
          const all: Array<{ v: number; id: number }> = [];
          list.forEachInRange(
            () => true,
            () => true,
            (e) => all.push(e),
          );
          expect(all).toEqual(model);
          expect(list.size).toBe(model.length);
          const inRange: Array<{ v: number; id: number }> = [];
          list.forEachInRange(
            (e) => e.v >= -5,
            (e) => e.v <= 5,
            (e) => inRange.push(e),
          );
          expect(inRange).toEqual(model.filter((e) => e.v >= -5 && e.v <= 5));
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('SortedList insertion among equal elements', () => {
  it('puts each element after those equal to it, whether it extends the list or lands inside it', () => {
    fc.assert(
      fc.property(
        // Mostly non-decreasing runs (appends), with jumps back (inserts inside), over chunk splits.
        fc.array(fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -40, max: 0 })), { maxLength: 3000 }),
        (steps) => {
          const list = new SortedList<{ v: number; n: number }>((a, b) => a.v - b.v);
          const model: Array<{ v: number; n: number }> = [];
          let v = 0;
          for (const [n, step] of steps.entries()) {
            v += step;
            const item = { v, n };
            list.insert(item);
            // The general path's place: after the last element not greater than the new one.
            let at = model.length;
            while (at > 0 && model[at - 1].v > v) at--;
            model.splice(at, 0, item);
          }
          const all: Array<{ v: number; n: number }> = [];
          list.walk(false, (e) => all.push(e) > 0);
          expect(all.map((e) => e.n)).toEqual(model.map((e) => e.n));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('BSON ordering', () => {
  it('orders types like MongoDB: null < numbers < strings < objects < arrays < ObjectId < booleans < dates', () => {
    const values = [new Date(0), true, new ObjectId('000000000000000000000001'), [1], { a: 1 }, 'a', 2, 1.5, null];
    const sorted = [...values].sort(compareBson);
    expect(sorted).toEqual([
      null,
      1.5,
      2,
      'a',
      { a: 1 },
      [1],
      new ObjectId('000000000000000000000001'),
      true,
      new Date(0),
    ]);
  });
});

describe('index-backed candidate selection', () => {
  const arbitraryDoc = fc.record({
    a: fc.oneof(
      fc.integer({ min: 0, max: 20 }),
      fc.constantFrom('x', 'y', null),
      fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 3 }),
    ),
    b: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  });
  const scalar = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom('x', 'y', null));
  const arbitraryFilter = fc.oneof(
    scalar.map((v) => ({ a: v })),
    fc.array(scalar, { maxLength: 3 }).map((vs) => ({ a: { $in: vs } })),
    fc
      .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }))
      .map(([x, y]) => ({ a: { $gte: Math.min(x, y), $lt: Math.max(x, y) } })),
    fc
      .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 5 }))
      .map(([x, y]) => ({ a: x, b: { $lte: y } })),
    fc.integer({ min: 0, max: 20 }).map((x) => ({ $and: [{ a: { $gt: x } }, { b: { $exists: true } }] })),
  );

  it('never misses a document the filter matches', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryDoc, { maxLength: 60 }),
        arbitraryFilter,
        fc.boolean(),
        (docs, filter, descending) => {
          const catalog = new Catalog();
          const coll = catalog.ensure('db', 'c');
          coll.addIndex({ v: 2, key: { a: descending ? -1 : 1, b: 1 }, name: 'a_b' });
          docs.forEach((doc, i) => coll.insert({ _id: i, ...doc }));
          const query = compileFilter(filter);
          const expected = [...coll.docs.values()].filter((d) => query.test(d)).map((d) => d._id as number);
          const candidates = planCandidates(coll, filter);
          expect(candidates).toBeDefined();
          const found = candidates!.filter((d) => query.test(d)).map((d) => d._id as number);
          expect(found.sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves for the filter exactly what the key ranges do not answer', () => {
    const text = fc.constantFrom('a', 'b', 'c', 'd', '', 'ab');
    const value = fc.oneof(fc.integer({ min: 0, max: 6 }), text, fc.constant(null), fc.array(text, { maxLength: 2 }));
    const doc = fc.record(
      { s: fc.oneof(text, fc.integer({ min: 0, max: 3 })), d: value, x: value },
      { requiredKeys: [] },
    );
    const bound = fc.oneof(fc.integer({ min: 0, max: 6 }), text);
    const condition = fc.oneof(
      value,
      bound.map((v) => ({ $eq: v })),
      fc.array(value, { maxLength: 3 }).map((vs) => ({ $in: vs })),
      fc
        .tuple(fc.constantFrom('$gt', '$gte'), bound, fc.constantFrom('$lt', '$lte'), bound)
        .map(([lowOp, low, highOp, high]) => ({ [lowOp]: low, [highOp]: high })),
      bound.map((v) => ({ $gte: v })),
      fc.tuple(bound, fc.array(text, { maxLength: 2 })).map(([v, vs]) => ({ $lte: v, $nin: vs })),
      fc.constant({ $exists: true }),
    );
    const clause = fc.dictionary(fc.constantFrom('s', 'd', 'x'), condition, { minKeys: 1, maxKeys: 2 });
    const filter = fc.oneof(
      clause,
      fc.array(clause, { minLength: 1, maxLength: 3 }).map((clauses) => ({ $and: clauses })),
      fc.tuple(clause, fc.array(clause, { minLength: 1, maxLength: 2 })).map(([top, rest]) => ({
        ...top,
        $and: [{ $and: rest }],
      })),
    );
    fc.assert(
      fc.property(fc.array(doc, { maxLength: 50 }), filter, (docs, query) => {
        const coll = new Catalog().ensure('db', 'rows');
        coll.addIndex({ v: 2, key: { s: 1, d: 1 }, name: 's_1_d_1' });
        docs.forEach((d, i) => coll.insert({ _id: i, ...d }));
        const full = compileFilter(query);
        const expected = [...coll.docs.values()].filter((d) => full.test(d)).map((d) => d._id as number);
        const plan = planScan(coll, query);
        const rest = plan && Object.keys(plan.residual).length ? compileFilter(plan.residual) : undefined;
        const found = plan ? [...plan.documents].filter((d) => !rest || rest.test(d)).map((d) => d._id as number) : [];
        if (plan) expect(found.sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
      }),
      { numRuns: 1000 },
    );
  });

  it('tests only the conditions the index does not answer: none for a site, set and day range', () => {
    const coll = new Catalog().ensure('db', 'stats_hit_days');
    coll.addIndex({ v: 2, key: { siteId: 1, set: 1, day: 1 }, name: 'siteId_1_set_1_day_1' });
    const site = new ObjectId();
    coll.insert({ _id: 1, siteId: site, set: 'place', day: '2026-10-02', classification: 'BOT' });
    const range = { siteId: site, set: 'place', day: { $gte: '2026-10-01', $lte: '2026-10-30' } };
    expect(planScan(coll, range)?.residual).toEqual({});
    expect(planScan(coll, { $and: [{ siteId: site }, { set: 'place' }, { day: range.day }] })?.residual).toEqual({});
    expect(planScan(coll, { ...range, classification: 'USER' })?.residual).toEqual({ classification: 'USER' });
    // A one-sided range runs on into other types, and `$nin` is not an interval: both stay.
    expect(planScan(coll, { siteId: site, set: 'place', day: { $gte: '2026-10-01' } })?.residual).toEqual({
      day: { $gte: '2026-10-01' },
    });
    const withNin = { siteId: site, set: 'place', day: { $gte: 'a', $lte: 'b', $nin: ['a'] } };
    expect(planScan(coll, withNin)?.residual).toEqual({ day: withNin.day });
  });

  it('answers a point lookup among many documents from the index, not by scanning', () => {
    const catalog = new Catalog();
    const coll = catalog.ensure('db', 'big');
    coll.addIndex({ v: 2, key: { visitor: 1 }, name: 'visitor_1' });
    for (let i = 0; i < 50_000; i++) coll.insert({ _id: i, visitor: `v${i}`, n: i % 7 });
    expect(planCandidates(coll, { visitor: 'v4242' })?.map((d: Document) => d._id)).toEqual([4242]);
    expect(planCandidates(coll, { _id: { $gte: 10, $lt: 13 } })?.map((d: Document) => d._id)).toEqual([10, 11, 12]);
    expect(planCandidates(coll, { n: 3 })).toBeUndefined();
  });

  it('picks the index whose key range holds the fewest entries, not the one with more equality fields', () => {
    const catalog = new Catalog();
    const coll = catalog.ensure('db', 'hits');
    coll.addIndex({ v: 2, key: { siteId: 1, ts: 1 }, name: 'siteId_1_ts_1' });
    coll.addIndex({ v: 2, key: { receivedAt: 1 }, name: 'receivedAt_1' });
    const site = new ObjectId();
    for (let i = 0; i < 20_000; i++) coll.insert({ _id: i, siteId: site, ts: i, receivedAt: i });
    const recent = planCandidates(coll, { siteId: site, receivedAt: { $gt: 19_990 } });
    expect(recent?.map((d: Document) => d._id)).toEqual([
      19_991, 19_992, 19_993, 19_994, 19_995, 19_996, 19_997, 19_998, 19_999,
    ]);
    const oneSiteDay = planCandidates(coll, { siteId: site, ts: { $gte: 5, $lt: 7 }, receivedAt: { $gte: 0 } });
    expect(oneSiteDay?.map((d: Document) => d._id)).toEqual([5, 6]);
  });

  it('counts the entries of a key range as a scan would visit them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -30, max: 30 }), { maxLength: 3000 }),
        fc.integer({ min: -35, max: 35 }),
        fc.nat(20),
        (values, low, width) => {
          const list = new SortedList<{ v: number; id: number }>((a, b) => a.v - b.v || a.id - b.id);
          values.forEach((v, id) => list.insert({ v, id }));
          let visited = 0;
          list.forEachInRange(
            (e) => e.v >= low,
            (e) => e.v < low + width,
            () => visited++,
          );
          expect(
            list.countInRange(
              (e) => e.v >= low,
              (e) => e.v < low + width,
            ),
          ).toBe(visited);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps counting right when the list changes between counts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -30, max: 30 }), { minLength: 1_100, maxLength: 3_000 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.integer({ min: -35, max: 35 })), { maxLength: 40 }),
        (values, changes) => {
          const list = new SortedList<{ v: number; id: number }>((a, b) => a.v - b.v || a.id - b.id);
          const model = values.map((v, id) => ({ v, id }));
          model.forEach((item) => list.insert(item));
          let nextId = model.length;
          for (const [insert, position, bound] of changes) {
            if (insert || model.length === 0) {
              const item = { v: bound, id: nextId++ };
              model.push(item);
              list.insert(item);
            } else {
              const [victim] = model.splice(position % model.length, 1);
              list.remove(victim, (e) => e.id === victim.id);
            }
            expect(
              list.countInRange(
                (e) => e.v >= bound,
                () => true,
              ),
            ).toBe(model.filter((e) => e.v >= bound).length);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('does not count the key ranges of a lone applicable index (a 10,000-value $in costs no counting)', () => {
    const coll = new Catalog().ensure('db', 'hits');
    coll.addIndex({ v: 2, key: { visitorId: 1 }, name: 'visitorId_1' });
    coll.addIndex({ v: 2, key: { siteId: 1 }, name: 'siteId_1' });
    for (let i = 0; i < 2_000; i++) coll.insert({ _id: i, visitorId: `v${i}`, siteId: `s${i % 4}` });
    let counted = 0;
    for (const index of coll.indexes.values()) {
      const count = index.count.bind(index);
      index.count = (...bounds) => {
        counted++;
        return count(...bounds);
      };
    }
    const ids = Array.from({ length: 10_000 }, (_, i) => `v${i}`);
    expect(planCandidates(coll, { visitorId: { $in: ids } })).toHaveLength(2_000);
    expect(counted).toBe(0);
    expect(planCandidates(coll, { siteId: 's1', visitorId: { $in: ['v1', 'v5'] } })?.map((d) => d._id)).toEqual([1, 5]);
    expect(counted).toBeGreaterThan(0);
  });

  it('keeps index entries right through replacements that change some indexed values and not others', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(49), fc.integer({ min: 0, max: 5 }), fc.boolean()), { maxLength: 300 }),
        (changes) => {
          const catalog = new Catalog();
          const coll = catalog.ensure('db', 'replaced');
          coll.addIndex({ v: 2, key: { a: 1, b: 1 }, name: 'a_1_b_1' });
          const model = new Map<number, Document>();
          for (let i = 0; i < 50; i++) {
            const doc = { _id: i, a: i % 3, b: 0, other: 0 };
            coll.insert(doc);
            model.set(i, doc);
          }
          for (const [id, value, indexed] of changes) {
            const previous = model.get(id)!;
            const next = indexed ? { ...previous, a: value } : { ...previous, other: value };
            coll.replace(previous, next);
            model.set(id, next);
          }
          for (let a = 0; a <= 5; a++) {
            const expected = [...model.values()].filter((doc) => doc.a === a).map((doc) => doc._id as number);
            const found = (planCandidates(coll, { a }) ?? []).map((doc) => doc._id as number);
            expect(found.sort((x, y) => x - y)).toEqual(expected.sort((x, y) => x - y));
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
