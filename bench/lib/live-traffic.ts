import { TrafficGenerator, userAgentOf, type HitShape } from './hits.js';
import { mulberry32 } from './seeded-random.js';

/**
 * Live traffic for the sustained and app-cost scenarios: hits happen now (no `timestamp`, as the
 * tracker script sends them, so the server stamps its clock), from a pool of visitors in the
 * middle of their visits. Each visitor views a Zipf-like number of pages (exponent 1.2, as in
 * VisitorTraffic) and is then replaced by another drawn from a fixed population, so visitors come
 * back across visits and across steps. Only a visit's first page view has an external referrer.
 */
const ZIPF_EXPONENT = 1.2;
const MAX_PAGEVIEWS = 300;
/** Visitors who come back: ids are drawn from this population (≈ a site's monthly audience). */
export const LIVE_POPULATION = 200_000;
/** Seconds between two page views of one visitor on average: the pool holds rate × this many visitors. */
const MEAN_GAP_SECONDS = 30;

interface ActiveVisitor {
  id: number;
  userAgent: string;
  remaining: number;
  viewed: number;
}

export class LiveTraffic {
  private readonly next: () => number;
  private readonly pages: TrafficGenerator;
  private readonly active: ActiveVisitor[] = [];
  private readonly poolSize: number;

  /** `rate`: the hits per second to be sent, which sizes the pool of visitors in a visit. */
  constructor(seed: number, rate: number) {
    this.next = mulberry32(seed);
    this.pages = new TrafficGenerator(LIVE_POPULATION, seed + 1);
    this.poolSize = Math.max(50, Math.round(rate * MEAN_GAP_SECONDS));
  }

  batch(size: number): HitShape[] {
    return Array.from({ length: size }, () => this.hit());
  }

  private hit(): HitShape {
    while (this.active.length < this.poolSize) this.active.push(this.newVisitor());
    const index = Math.floor(this.next() * this.active.length);
    const visitor = this.active[index];
    const sample = this.pages.hit();
    const hit: HitShape = { url: sample.url, ip: this.pages.ip(visitor.id), userAgent: visitor.userAgent };
    if (visitor.viewed === 0 && sample.referrer) hit.referrer = sample.referrer;
    visitor.viewed += 1;
    visitor.remaining -= 1;
    if (visitor.remaining === 0) this.active.splice(index, 1);
    return hit;
  }

  private newVisitor(): ActiveVisitor {
    const id = Math.floor(this.next() * LIVE_POPULATION);
    return {
      id,
      userAgent: userAgentOf(id),
      remaining: Math.min(MAX_PAGEVIEWS, Math.floor(Math.pow(1 - this.next(), -1 / ZIPF_EXPONENT))),
      viewed: 0,
    };
  }
}
