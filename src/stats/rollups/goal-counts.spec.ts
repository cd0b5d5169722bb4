import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  addMembershipDeltas,
  addToEntry,
  recountGoal,
  uniqueConversions,
  type GoalCountEntry,
  type GoalCountTally,
  type GoalMembership,
} from './goal-counts.js';

const DAYS = ['2024-05-01', '2024-05-02', '2024-05-03', '2024-05-04', '2024-05-05', '2024-05-06', '2024-05-07'];

/** The stored entries of a tally, by `goalId|classification|day`, without empty ones. */
function entries(tally: GoalCountTally, base = new Map<string, GoalCountEntry>()): Map<string, GoalCountEntry> {
  const result = new Map(base);
  for (const [key, delta] of tally) result.set(key, addToEntry(result.get(key), delta));
  for (const [key, entry] of result)
    if (entry.fresh === 0 && entry.returning.length === 0 && entry.events === 0) result.delete(key);
  return result;
}

const membershipArbitrary = fc.record({
  visitor: fc.constantFrom('a', 'b', 'c'),
  day: fc.constantFrom(...DAYS),
  classification: fc.constantFrom('USER', 'BOT'),
});

describe('goal conversion counts', () => {
  it('adds new conversion days by deltas to exactly what a recount of all days gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(membershipArbitrary, { maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        (batches) => {
          const seen: GoalMembership[] = [];
          let stored = new Map<string, GoalCountEntry>();
          for (const batch of batches) {
            const fresh = batch
              .map(({ visitor, day, classification }) => ({ goalId: 'g', classification, visitorKey: visitor, day }))
              .filter(
                (membership, index, list) =>
                  !seen.some((known) => JSON.stringify(known) === JSON.stringify(membership)) &&
                  list.findIndex((other) => JSON.stringify(other) === JSON.stringify(membership)) === index,
              );
            seen.push(...fresh);
            const tally: GoalCountTally = new Map();
            const byVisitor = new Map<string, GoalMembership[]>();
            for (const membership of fresh) {
              const key = `${membership.classification}|${membership.visitorKey}`;
              byVisitor.set(key, [...(byVisitor.get(key) ?? []), membership]);
            }
            for (const added of byVisitor.values()) {
              const { classification, visitorKey } = added[0];
              const history = seen
                .filter((known) => known.classification === classification && known.visitorKey === visitorKey)
                .map((known) => known.day);
              addMembershipDeltas(tally, 'g', classification, history, new Set(added.map((known) => known.day)));
            }
            stored = entries(tally, stored);
          }
          expect(stored).toEqual(entries(recountGoal(seen, [])));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts each visitor converting in a range once, from the entries of its days alone', () => {
    fc.assert(
      fc.property(fc.array(membershipArbitrary, { maxLength: 20 }), fc.integer({ min: 0, max: 6 }), (list, first) => {
        const memberships = list.map(({ visitor, day }) => ({
          goalId: 'g',
          classification: 'USER',
          visitorKey: visitor,
          day,
        }));
        const stored = entries(recountGoal(memberships, []));
        const fromDay = DAYS[first];
        const inRange = [...stored].filter(([key]) => key.split('|')[2] >= fromDay).map(([, entry]) => entry);
        const expected = new Set(memberships.filter((m) => m.day >= fromDay).map((m) => m.visitorKey)).size;
        expect(uniqueConversions(inRange, fromDay)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('adds events and revenue per currency', () => {
    const tally = recountGoal(
      [],
      [
        {
          membership: { goalId: 'g', classification: 'USER', day: DAYS[0] },
          revenue: { currency: 'EUR', amount: 2.5 },
        },
        { membership: { goalId: 'g', classification: 'USER', day: DAYS[0] }, revenue: { currency: 'USD', amount: 1 } },
        { membership: { goalId: 'g', classification: 'USER', day: DAYS[0] }, revenue: { currency: 'EUR', amount: 1 } },
        { membership: { goalId: 'g', classification: 'USER', day: DAYS[0] }, revenue: null },
      ],
    );
    expect(entries(tally).get(`g|USER|${DAYS[0]}`)).toEqual({
      fresh: 0,
      returning: [],
      events: 4,
      revenue: [
        { currency: 'EUR', sum: 3.5, count: 2 },
        { currency: 'USD', sum: 1, count: 1 },
      ],
    });
  });
});
