import { describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import { compareHits, sessionize, type SessionHit } from './sessionize.js';

const IDLE_MS = 30 * 60_000;
const siteId = new Types.ObjectId();

function hitAt(minute: number, name = 'pageview', path = `/p${minute}`): SessionHit {
  return {
    _id: new Types.ObjectId(),
    ts: new Date(Date.UTC(2024, 0, 1) + minute * 60_000),
    name,
    path,
    classification: 'USER',
    source: null,
    referrer: null,
    utmSource: null,
    utmMedium: null,
    utmCampaign: null,
    utmTerm: null,
    utmContent: null,
    countryCode: null,
    visitId: null,
  };
}

describe('sessionize', () => {
  it('splits on gaps longer than the idle timeout and keeps a gap of exactly the timeout', () => {
    const hits = [hitAt(0), hitAt(30), hitAt(61), hitAt(62, 'signup')];
    const visits = sessionize(siteId, 'v', hits, IDLE_MS).map((group) => group.visit);
    expect(visits.map((visit) => [visit.hits, visit.pageviews, visit.duration, visit.bounce])).toEqual([
      [2, 2, 1800, false],
      [2, 1, 60, true],
    ]);
    expect(visits[0].entryPath).toBe('/p0');
    expect(visits[0].exitPath).toBe('/p30');
  });

  it('gives the same visit ids when the same hits are sessionized again', () => {
    const hits = [hitAt(0), hitAt(5)];
    expect(sessionize(siteId, 'v', hits, IDLE_MS)[0].visit._id).toBe(
      sessionize(siteId, 'v', [...hits], IDLE_MS)[0].visit._id,
    );
  });

  it('a hit bridging two visits merges them', () => {
    const before = sessionize(siteId, 'v', [hitAt(0), hitAt(50)], IDLE_MS);
    const after = sessionize(siteId, 'v', [hitAt(0), hitAt(25), hitAt(50)].sort(compareHits), IDLE_MS);
    expect(before).toHaveLength(2);
    expect(after).toHaveLength(1);
    expect(after[0].visit.duration).toBe(50 * 60);
  });

  it('takes the traffic source of its first hit, and of a late hit that comes before it', () => {
    const arrival = { ...hitAt(10), source: 'newsletter', utmSource: 'newsletter', utmCampaign: 'may' };
    const later = [hitAt(12), hitAt(14)];
    const [visit] = sessionize(siteId, 'v', [arrival, ...later], IDLE_MS).map((group) => group.visit);
    expect([visit.source, visit.utmSource, visit.utmCampaign, visit.referrer]).toEqual([
      'newsletter',
      'newsletter',
      'may',
      null,
    ]);

    const search = { ...hitAt(0), source: 'search.example', referrer: 'https://search.example/' };
    const [moved] = sessionize(siteId, 'v', [search, arrival, ...later], IDLE_MS).map((group) => group.visit);
    expect([moved.source, moved.referrer, moved.utmSource, moved.utmCampaign]).toEqual([
      'search.example',
      'https://search.example/',
      null,
      null,
    ]);
  });
});
