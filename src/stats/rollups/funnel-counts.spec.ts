import { describe, expect, it } from '@jest/globals';
import { mulberry32 } from '../../../test/support/seeded-random.js';
import {
  addToFunnelEntry,
  addVisitorChange,
  correctBoundaries,
  funnelLevel,
  stepDaysOf,
  visitorsReached,
  type FunnelCountEntry,
  type FunnelCountTally,
  type StepDays,
} from './funnel-counts.js';

const DAYS = ['2024-05-01', '2024-05-02', '2024-05-03', '2024-05-04', '2024-05-05', '2024-05-06'];
const STEPS = 3;

interface Visit {
  id: string;
  visitor: string;
  day: string;
  level: number;
}

/** The count documents after applying tallies one after the other. */
function apply(store: Map<string, FunnelCountEntry & { step: number }>, tally: FunnelCountTally): void {
  for (const [key, delta] of tally) store.set(key, { step: delta.step, ...addToFunnelEntry(store.get(key), delta) });
}

/** Distinct visitors with a visit starting in [from, to] at level ≥ step, per step. */
function bruteReached(visits: readonly Visit[], from: string, to: string): number[] {
  return Array.from(
    { length: STEPS },
    (_, index) =>
      new Set(visits.filter((v) => v.day >= from && v.day <= to && v.level > index).map((v) => v.visitor)).size,
  );
}

describe('funnel counts', () => {
  it('walks a visit like the raw pipeline: in order, one step per hit, later hits only', () => {
    const steps = [
      { kind: 'page' as const, pagePath: '/' },
      { kind: 'page' as const, pagePath: '/*' },
      { kind: 'event' as const, eventName: 'Signup', property: null },
    ];
    const hit = (minute: number, path: string, name = 'pageview') => ({
      id: `00000000000000000000000${minute}`,
      ts: new Date(Date.UTC(2024, 4, 1, 10, minute)),
      name,
      path,
    });
    // One page view of `/` does not complete `/` and `/*` at once; Signup before `/*` does not count.
    expect(funnelLevel(steps, [hit(1, '/'), hit(2, '/', 'Signup')])).toBe(1);
    expect(funnelLevel(steps, [hit(3, '/x'), hit(1, '/'), hit(4, '/', 'Signup')])).toBe(3);
    expect(funnelLevel(steps, [hit(1, '/x'), hit(2, '/')])).toBe(1);
  });

  it('kept by old-out/new-in deltas over random visit changes, equal a recount and distinct visitors of any range', () => {
    const random = mulberry32(1818);
    for (let round = 0; round < 40; round++) {
      const visits = new Map<string, Visit>();
      const current = new Map<string, StepDays>();
      const store = new Map<string, FunnelCountEntry & { step: number }>();
      for (let change = 0; change < 30; change++) {
        // A batch: a few visits created, changed (deeper or shallower, another start day: a merge) or deleted.
        const touched = new Set<string>();
        for (let n = 0; n < 1 + Math.floor(random() * 4); n++) {
          const id = `v${Math.floor(random() * 12)}`;
          const visitor = `u${Number(id.slice(1)) % 4}`;
          if (random() < 0.2) visits.delete(id);
          else
            visits.set(id, {
              id,
              visitor,
              day: DAYS[Math.floor(random() * DAYS.length)],
              level: Math.floor(random() * (STEPS + 1)),
            });
          touched.add(visitor);
        }
        const tally: FunnelCountTally = new Map();
        for (const visitor of touched) {
          const next = stepDaysOf(
            [...visits.values()].filter((v) => v.visitor === visitor),
            STEPS,
          );
          addVisitorChange(tally, current.get(visitor) ?? [], next);
          current.set(visitor, next);
        }
        apply(store, tally);
      }
      const recount = new Map<string, FunnelCountEntry & { step: number }>();
      for (const days of current.values()) {
        const tally: FunnelCountTally = new Map();
        addVisitorChange(tally, [], days);
        apply(recount, tally);
      }
      const meaningful = (entries: Map<string, FunnelCountEntry & { step: number }>) =>
        [...entries].filter(([, entry]) => entry.fresh !== 0 || entry.returning.length > 0).sort();
      expect(meaningful(store)).toEqual(meaningful(recount));
      for (const from of DAYS)
        for (const to of DAYS.filter((day) => day >= from)) {
          const entries = [...store.entries()]
            .filter(([key]) => {
              const day = key.split('|')[1];
              return day >= from && day <= to;
            })
            .map(([, entry]) => entry);
          expect(visitorsReached(entries, from, STEPS)).toEqual(bruteReached([...visits.values()], from, to));
        }
    }
  });

  it('corrected for visits crossing the range boundaries, equal the visitors of the range walked whole', () => {
    const random = mulberry32(2024);
    for (let round = 0; round < 200; round++) {
      const [from, to] = ['2024-05-02', '2024-05-04'];
      // Visits starting in the range at their whole level; some cross the last midnight (their
      // level in the range may be lower), some start before the range and cross its first one.
      const inside: Array<Visit & { inRange: number; boundary: boolean }> = [];
      for (let n = 0; n < 10; n++) {
        const visitor = `u${Math.floor(random() * 5)}`;
        const level = Math.floor(random() * (STEPS + 1));
        const day = ['2024-05-01', '2024-05-02', '2024-05-03', '2024-05-04'][Math.floor(random() * 4)];
        const crossesLast = day === to && random() < 0.5;
        const crossesFirst = day < from;
        if (day < from && random() < 0.3) continue;
        const inRange = crossesLast || crossesFirst ? Math.floor(random() * (level + 1)) : level;
        inside.push({ id: `v${n}`, visitor, day, level, inRange, boundary: crossesLast || crossesFirst });
      }
      const counted = inside.filter((v) => v.day >= from && v.level > 0);
      const tally: FunnelCountTally = new Map();
      const store = new Map<string, FunnelCountEntry & { step: number }>();
      for (const visitor of new Set(counted.map((v) => v.visitor))) {
        addVisitorChange(
          tally,
          [],
          stepDaysOf(
            counted.filter((v) => v.visitor === visitor),
            STEPS,
          ),
        );
      }
      apply(store, tally);
      const reached = visitorsReached(store.values(), from, STEPS);
      const boundary = inside.filter((v) => v.boundary && v.level > 0);
      const boundaryVisitors = new Set(boundary.map((v) => v.visitor));
      const corrected = correctBoundaries(
        reached,
        counted
          .filter((v) => boundaryVisitors.has(v.visitor))
          .map((v) => ({ visitId: v.id, visitorKey: v.visitor, level: v.level })),
        boundary.map((v) => ({ visitId: v.id, visitorKey: v.visitor, level: v.inRange })),
      );
      const expected = Array.from(
        { length: STEPS },
        (_, index) => new Set(inside.filter((v) => v.inRange > index).map((v) => v.visitor)).size,
      );
      expect(corrected).toEqual(expected);
    }
  });
});
