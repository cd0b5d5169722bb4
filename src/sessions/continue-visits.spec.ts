import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { storedVisit } from './visits.repository.js';
import {
  attributionOf,
  compareHits,
  continueVisits,
  sessionize,
  visitIdFor,
  type SessionHit,
  type VisitGroup,
} from './sessionize.js';

const IDLE_MS = 30 * 60_000;
const siteId = new Types.ObjectId();
const START = Date.UTC(2024, 0, 1);

/** Gaps around the idle timeout (equal ones included) and ties, so visits split and merge at every edge. */
const gap = fc.oneof(
  fc.constant(0),
  fc.constantFrom(IDLE_MS - 1, IDLE_MS, IDLE_MS + 1),
  fc.integer({ min: 1, max: 2 * IDLE_MS }),
);
const optional = (values: string[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
const hitShape = fc.record({
  gap,
  name: fc.constantFrom('pageview', 'pageview', 'signup'),
  path: fc.constantFrom('/', '/a', '/b'),
  classification: fc.constantFrom('USER' as const, 'BOT' as const),
  source: optional(['newsletter', 'search.example']),
  referrer: optional(['https://search.example/']),
  utmSource: optional(['mail']),
  utmCampaign: optional(['may']),
  countryCode: optional(['DE', 'FR']),
});

type HitShape = typeof hitShape extends fc.Arbitrary<infer T> ? T : never;

function hitsOf(shapes: HitShape[]): SessionHit[] {
  let at = START;
  return shapes
    .map(({ gap: step, ...fields }) => {
      at += step;
      // The store leaves null fields out: a hit has only the attribution fields it has a value for.
      return { _id: new Types.ObjectId(), ts: new Date(at), visitId: null, ...fields } as SessionHit;
    })
    .sort(compareHits);
}

/** Visits by their definition (docs/metrics.md), each from its whole group of hits at once. */
function byDefinition(sortedHits: SessionHit[]): VisitGroup[] {
  const groups: SessionHit[][] = [];
  for (const [index, hit] of sortedHits.entries()) {
    if (index === 0 || hit.ts.getTime() - sortedHits[index - 1].ts.getTime() > IDLE_MS) groups.push([hit]);
    else groups[groups.length - 1].push(hit);
  }
  return groups.map((group) => {
    const [first, last] = [group[0], group[group.length - 1]];
    const pageviews = group.filter((hit) => hit.name === 'pageview');
    return {
      visit: {
        _id: visitIdFor(siteId.toHexString(), 'v', first._id),
        siteId,
        visitorKey: 'v',
        start: first.ts,
        end: last.ts,
        pageviews: pageviews.length,
        hits: group.length,
        bounce: pageviews.length === 1,
        duration: Math.round((last.ts.getTime() - first.ts.getTime()) / 1000),
        entryPath: pageviews[0]?.path ?? null,
        exitPath: pageviews[pageviews.length - 1]?.path ?? null,
        classification: first.classification,
        singleClass: group.every((hit) => hit.classification === first.classification),
        ...attributionOf(first),
        countryCode: first.countryCode ?? null,
      },
      hitIds: group.map((hit) => hit._id),
    };
  });
}

/** What a stored visit reads back as: its null fields left out (as `visits` stores it). */
const asStored = (group: VisitGroup) => storedVisit(group.visit);

describe('continueVisits', () => {
  it('continuing a visitor’s last stored visit with later hits gives what sessionizing all the hits gives', () => {
    fc.assert(
      fc.property(fc.array(hitShape, { minLength: 1, maxLength: 30 }), fc.nat(), (shapes, cut) => {
        const hits = hitsOf(shapes);
        const split = 1 + (cut % hits.length);
        const before = sessionize(siteId, 'v', hits.slice(0, split), IDLE_MS);
        const last = before[before.length - 1];
        const continued = continueVisits(siteId, 'v', asStored(last), hits.slice(split), IDLE_MS);

        // The stored visit extended (with the hits it had and those it took) or left as it was, then new visits.
        const extended = continued.length > 0 && continued[0].visit._id === last.visit._id;
        const expected = [
          ...before.slice(0, -1),
          extended ? { visit: continued[0].visit, hitIds: [...last.hitIds, ...continued[0].hitIds] } : last,
          ...continued.slice(extended ? 1 : 0),
        ];
        expect(expected).toEqual(byDefinition(hits));
      }),
      { numRuns: 2_000 },
    );
  });

  it('sessionize gives the visits of the definition', () => {
    fc.assert(
      fc.property(fc.array(hitShape, { maxLength: 30 }), (shapes) => {
        const hits = hitsOf(shapes);
        expect(sessionize(siteId, 'v', hits, IDLE_MS)).toEqual(byDefinition(hits));
      }),
      { numRuns: 1_000 },
    );
  });
});
