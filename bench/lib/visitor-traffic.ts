import { TrafficGenerator, type HitShape } from './hits.js';
import { mulberry32 } from './seeded-random.js';

/**
 * Traffic shaped like a real site's, for the stats scale: visitors come back, and the number of
 * page views per visitor is Zipf-like (most view one or two pages, a few view dozens), grouped
 * into visits of a few page views a minute or so apart, each visit at its own time within the
 * span. Distinct counting costs one row per visitor and day whatever the store, so a bench where
 * every hit is a new visitor on a new day (uniform random times) measures nothing a rollup can
 * change. Measured on 5×10^4 hits: ~3.3 hits per visitor, ~2 per visitor-day, ~1.9 per visit,
 * 60% of visits bounce (the 10^4 site is a little flatter: its long visitors are cut short).
 *
 * Hits of a few hundred visitors in progress are interleaved, as concurrent visitors are.
 */
const ZIPF_EXPONENT = 1.2;
const MAX_PAGEVIEWS_PER_VISITOR = 300;
const MEAN_PAGEVIEWS_PER_VISIT = 3;
const ACTIVE_VISITORS = 400;
const MAX_GAP_MS = 4 * 60_000;

interface PendingVisitor {
  ip: string;
  /** Page, user agent and referrer come from the shared pool; the user agent stays the visitor's own. */
  userAgent: string;
  remaining: number;
  seen: boolean;
  visitStart: number;
  inVisit: number;
  nextTs: number;
}

export class VisitorTraffic {
  private readonly next: () => number;
  private readonly pages: TrafficGenerator;
  private readonly active: PendingVisitor[] = [];
  private visitors = 0;
  private seenVisitors = 0;

  constructor(
    seed: number,
    private readonly spanMs: number,
    private readonly now = Date.now(),
  ) {
    this.next = mulberry32(seed);
    // A large visitor pool for attribute sampling only: IPs here come from `ip()` below.
    this.pages = new TrafficGenerator(1_000_000, seed + 1);
  }

  /** Distinct visitors among the hits generated so far. */
  get visitorCount(): number {
    return this.seenVisitors;
  }

  batch(size: number): HitShape[] {
    return Array.from({ length: size }, () => this.hit());
  }

  private hit(): HitShape {
    while (this.active.length < ACTIVE_VISITORS) this.active.push(this.newVisitor());
    const index = Math.floor(this.next() * this.active.length);
    const visitor = this.active[index];
    const sample = this.pages.hit(this.now);
    const hit: HitShape = { ...sample, ip: visitor.ip, userAgent: visitor.userAgent };
    // Only a visit's first page view has an external referrer.
    if (visitor.inVisit > 0) delete hit.referrer;
    hit.timestamp = new Date(visitor.nextTs).toISOString();
    if (!visitor.seen) this.seenVisitors += 1;
    visitor.seen = true;
    visitor.remaining -= 1;
    visitor.inVisit += 1;
    if (visitor.remaining === 0) this.active.splice(index, 1);
    else if (this.next() < 1 / MEAN_PAGEVIEWS_PER_VISIT) this.startVisit(visitor);
    else visitor.nextTs = Math.min(this.now, visitor.nextTs + 10_000 + Math.floor(this.next() * MAX_GAP_MS));
    return hit;
  }

  private newVisitor(): PendingVisitor {
    const id = this.visitors++;
    const pageviews = Math.min(MAX_PAGEVIEWS_PER_VISITOR, Math.floor(Math.pow(1 - this.next(), -1 / ZIPF_EXPONENT)));
    const visitor: PendingVisitor = {
      ip: this.pages.ip(id),
      userAgent: this.pages.hit(this.now).userAgent,
      remaining: pageviews,
      seen: false,
      visitStart: 0,
      inVisit: 0,
      nextTs: 0,
    };
    this.startVisit(visitor);
    return visitor;
  }

  private startVisit(visitor: PendingVisitor): void {
    // Ends an hour before now so a whole visit (gaps of at most a few minutes) stays in the span.
    visitor.visitStart = this.now - 3_600_000 - Math.floor(this.next() * (this.spanMs - 3_600_000));
    visitor.nextTs = visitor.visitStart;
    visitor.inVisit = 0;
  }
}
