import { Injectable, Logger } from '@nestjs/common';
import { Types } from 'mongoose';
import { daysFrom, formatCalendarDate, zonedDate } from '../../common/time/calendar.js';
import { FunnelsService, type FunnelDefinition } from '../../funnels/funnels.service.js';
import { goalPrefilter, type GoalDefinition } from '../../goals/goal-matching.js';
import { HitsRepository } from '../../hits/hits.repository.js';
import { SessionsService } from '../../sessions/sessions.service.js';
import type { Visit } from '../../sessions/schemas/visit.schema.js';
import { addVisitorChange, funnelLevel, stepDaysOf, type FunnelCountTally, type StepDays } from './funnel-counts.js';
import {
  funnelVisitId,
  funnelVisitorId,
  FunnelRowsRepository,
  type FunnelTally,
  type FunnelVisit,
  type ReadyFunnel,
} from './funnel-rows.repository.js';

/** The hit fields a funnel walk reads. */
export const FUNNEL_HIT_PROJECTION = {
  _id: 1,
  ts: 1,
  visitId: 1,
  visitorKey: 1,
  classification: 1,
  name: 1,
  path: 1,
  props: 1,
} as const;

/** A hit as the funnel rows read it. */
export interface FunnelRowHit {
  _id: Types.ObjectId;
  ts: Date;
  visitId?: string | null;
  visitorKey: string;
  classification: string;
  name: string;
  path: string;
  props?: Record<string, string | number | boolean> | null;
}

type VisitSpan = Pick<Visit, '_id' | 'visitorKey' | 'start' | 'end'>;

/** Visitor keys per hit query: one `$in` of the `{ siteId, visitorKey, ts }` index. */
const VISITOR_CHUNK = 200;

/** A funnel the rows can be kept for: every step's goal exists. */
function stepsOf(funnel: FunnelDefinition): GoalDefinition[] | undefined {
  return funnel.steps.every((step) => step.goal !== null) ? funnel.steps.map((step) => step.goal!) : undefined;
}

/** The rows of `ready` were built for this funnel as it is now: same steps, same zone. */
export function rowsMatch(ready: ReadyFunnel, funnel: FunnelDefinition, timezone: string): boolean {
  return (
    ready.timezone === timezone &&
    stepsOf(funnel) !== undefined &&
    ready.goalIds.join(',') === funnel.steps.map((step) => step.goalId).join(',')
  );
}

/** A query-language superset of the hits completing any of the steps. */
export function stepsPrefilter(steps: readonly GoalDefinition[]): Record<string, unknown> {
  return { $or: steps.map((step) => goalPrefilter(step)) };
}

/**
 * A visit's funnel rows, one per classification whose hits reach step 1 or more: the walk over
 * the visit's step hits within its stored span, on the local day it starts, with the midnights
 * it crosses. The span and the level come from the same read, so a hit joining the visit later
 * changes both in the batch that takes in the change.
 */
export function funnelVisitsOf(
  funnelId: string,
  steps: readonly GoalDefinition[],
  visit: VisitSpan,
  hits: readonly FunnelRowHit[],
  timezone: string,
): FunnelVisit[] {
  const own = hits.filter((hit) => hit.visitId === visit._id && hit.ts >= visit.start && hit.ts <= visit.end);
  if (own.length === 0) return [];
  const day = formatCalendarDate(zonedDate(visit.start, timezone));
  const lastDay = formatCalendarDate(zonedDate(visit.end, timezone));
  const midnights = daysFrom(day, lastDay).slice(1);
  const rows: FunnelVisit[] = [];
  for (const classification of new Set(own.map((hit) => hit.classification))) {
    const level = funnelLevel(
      steps,
      own
        .filter((hit) => hit.classification === classification)
        .map((hit) => ({ ...hit, id: hit._id.toHexString(), props: hit.props ?? null })),
    );
    if (level > 0)
      rows.push({
        funnelId,
        classification,
        visitId: visit._id,
        visitorKey: visit.visitorKey,
        day,
        lastDay,
        midnights,
        start: visit.start,
        end: visit.end,
        level,
      });
  }
  return rows;
}

const sameDays = (a: StepDays, b: StepDays) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Keeps the funnel rows (funnel-rows.schema.ts) for the rollup job. A saved funnel without rows
 * (new, its steps changed, or its site rebuilt) is backfilled (`syncFunnels`) from the site's
 * hits and visits as they are; each batch (`applyBatch`) then takes in the visits the sessionizer
 * changed since: each changed visit's rows are evaluated again from its hits, and each of its
 * visitors' step days move from what the counts hold to what the visit rows now give. The new
 * step days are recorded first (`next`, with the batch), the count deltas come from the records
 * and are applied once per count document (`lastBatch`), then the records are finished — so a
 * run killed anywhere and resumed applies the batch once.
 */
@Injectable()
export class FunnelRowsBuilder {
  private readonly logger = new Logger(FunnelRowsBuilder.name);

  constructor(
    private readonly rows: FunnelRowsRepository,
    private readonly funnels: FunnelsService,
    private readonly hits: HitsRepository,
    private readonly sessions: SessionsService,
  ) {}

  /**
   * Drops the rows of funnels deleted, changed (steps, zone) or whose goal was deleted, and
   * backfills the funnels without rows. `beforeWrite` renews the lease (see GoalConversionsBuilder).
   */
  async syncFunnels(zones: ReadonlyMap<string, string>, beforeWrite: () => Promise<void>): Promise<void> {
    const funnels = await this.funnels.listAll([...zones.keys()]);
    const byId = new Map(funnels.map((funnel) => [funnel.id, funnel]));
    const ready = new Set<string>();
    const stale: string[] = [];
    for (const [siteId, states] of await this.rows.findReadyFunnels([...zones.keys()]))
      for (const state of states) {
        const funnel = byId.get(state.funnelId);
        if (funnel && rowsMatch(state, funnel, zones.get(siteId)!)) ready.add(state.funnelId);
        else stale.push(state.funnelId);
      }
    if (stale.length > 0) await this.rows.deleteFunnelRows(stale);
    for (const funnel of funnels) {
      const steps = stepsOf(funnel);
      if (steps && !ready.has(funnel.id)) await this.backfill(funnel, steps, zones.get(funnel.siteId)!, beforeWrite);
    }
  }

  private async backfill(
    funnel: FunnelDefinition,
    steps: GoalDefinition[],
    timezone: string,
    beforeWrite: () => Promise<void>,
  ): Promise<void> {
    const started = performance.now();
    const siteId = new Types.ObjectId(funnel.siteId);
    const hits = await this.hits.aggregate<FunnelRowHit>([
      { $match: { siteId, ...stepsPrefilter(steps) } },
      { $project: FUNNEL_HIT_PROJECTION },
    ]);
    const byVisit = new Map<string, FunnelRowHit[]>();
    for (const hit of hits) {
      if (!hit.visitId) continue;
      const list = byVisit.get(hit.visitId) ?? [];
      list.push(hit);
      byVisit.set(hit.visitId, list);
    }
    const visits: FunnelVisit[] = [];
    const ids = [...byVisit.keys()];
    for (let offset = 0; offset < ids.length; offset += 500)
      for (const visit of await this.sessions.aggregateVisits<VisitSpan>([
        { $match: { _id: { $in: ids.slice(offset, offset + 500) } } },
        { $project: { _id: 1, visitorKey: 1, start: 1, end: 1 } },
      ]))
        visits.push(...funnelVisitsOf(funnel.id, steps, visit, byVisit.get(visit._id) ?? [], timezone));
    const byVisitor = new Map<string, { classification: string; visitorKey: string; visits: FunnelVisit[] }>();
    for (const visit of visits) {
      const key = `${visit.classification}|${visit.visitorKey}`;
      const entry = byVisitor.get(key) ?? {
        classification: visit.classification,
        visitorKey: visit.visitorKey,
        visits: [],
      };
      entry.visits.push(visit);
      byVisitor.set(key, entry);
    }
    const tallies = new Map<string, FunnelTally>();
    const visitors = [...byVisitor.values()].map(({ classification, visitorKey, visits: own }) => {
      const current = stepDaysOf(own, steps.length);
      addVisitorChange(tallyOf(tallies, funnel.id, classification), [], current);
      return { classification, visitorKey, current };
    });
    await beforeWrite();
    await this.rows.replaceFunnelRows(
      funnel.siteId,
      { funnelId: funnel.id, timezone, goalIds: funnel.steps.map((step) => step.goalId) },
      visits,
      visitors,
      [...tallies.values()],
    );
    // Operators (and the bench) see from this line when a new funnel's past visits are counted.
    this.logger.log(
      `Counted funnel ${funnel.id} from ${visits.length} past visits in ${Math.round(performance.now() - started)} ms`,
    );
  }

  /**
   * Takes in batch `batch`'s changed visits (`claimed`: each as stored now, null when deleted)
   * for every ready funnel of their sites. Applying it again applies it once.
   */
  async applyBatch(
    batch: number,
    claimed: ReadonlyArray<{ visitId: string; visit: Visit | null }>,
    zones: ReadonlyMap<string, string>,
  ): Promise<void> {
    if (claimed.length === 0) return;
    const previous = await this.rows.findVisitsOf(claimed.map((change) => change.visitId));
    const sites = new Set<string>(previous.map((row) => row.siteId.toHexString()));
    for (const { visit } of claimed) if (visit) sites.add(visit.siteId.toHexString());
    const ready = await this.rows.findReadyFunnels([...sites]);
    if (ready.size === 0) return;
    const funnels = new Map((await this.funnels.listAll([...ready.keys()])).map((funnel) => [funnel.id, funnel]));
    for (const [siteId, states] of ready) {
      const timezone = zones.get(siteId);
      if (timezone === undefined) continue;
      const kept = states.flatMap((state) => {
        const funnel = funnels.get(state.funnelId);
        return funnel && rowsMatch(state, funnel, timezone) ? [{ funnel, steps: stepsOf(funnel)! }] : [];
      });
      if (kept.length === 0) continue;
      const siteVisits = claimed.flatMap(({ visit }) =>
        visit && visit.siteId.toHexString() === siteId ? [visit] : [],
      );
      const siteChanged = new Set(
        claimed
          .filter(({ visit }) => (visit ? visit.siteId.toHexString() === siteId : true))
          .map(({ visitId }) => visitId),
      );
      await this.applySiteBatch(
        siteId,
        batch,
        kept,
        siteVisits,
        siteChanged,
        previous.filter((row) => row.siteId.toHexString() === siteId),
        timezone,
      );
    }
  }

  private async applySiteBatch(
    siteId: string,
    batch: number,
    funnels: ReadonlyArray<{ funnel: FunnelDefinition; steps: GoalDefinition[] }>,
    visits: readonly Visit[],
    changed: ReadonlySet<string>,
    previous: ReadonlyArray<FunnelVisit & { _id: string }>,
    timezone: string,
  ): Promise<void> {
    const hits = await this.visitHits(
      siteId,
      visits,
      funnels.flatMap(({ steps }) => steps),
    );
    const byVisitor = new Map<string, FunnelRowHit[]>();
    for (const hit of hits) {
      const list = byVisitor.get(hit.visitorKey) ?? [];
      list.push(hit);
      byVisitor.set(hit.visitorKey, list);
    }
    const written: FunnelVisit[] = [];
    const recorded = new Map(
      (await this.rows.findRecordedFunnelVisitors(batch))
        .filter((doc) => doc.siteId.toHexString() === siteId)
        .map((doc) => [doc._id, doc]),
    );
    const toRecord: Array<{
      visitor: { funnelId: string; classification: string; visitorKey: string };
      next: StepDays;
    }> = [];
    for (const { funnel, steps } of funnels) {
      const fresh = visits.flatMap((visit) =>
        funnelVisitsOf(funnel.id, steps, visit, byVisitor.get(visit.visitorKey) ?? [], timezone),
      );
      written.push(...fresh);
      // The visitors whose funnel visits this batch changed, by classification.
      const affected = new Map<string, Set<string>>();
      for (const row of [...previous.filter((row) => row.funnelId === funnel.id), ...fresh]) {
        const keys = affected.get(row.classification) ?? new Set<string>();
        keys.add(row.visitorKey);
        affected.set(row.classification, keys);
      }
      for (const [classification, keys] of affected) {
        const ids = [...keys].map((visitorKey) => funnelVisitorId(funnel.id, classification, visitorKey));
        const docs = await this.rows.findVisitors(ids.filter((id) => !recorded.has(id)));
        const open = [...keys].filter((visitorKey) => {
          const id = funnelVisitorId(funnel.id, classification, visitorKey);
          // Recorded by a first attempt of this batch, or finished by it: nothing more to compute.
          return !recorded.has(id) && (docs.get(id)?.lastBatch ?? 0) < batch;
        });
        const stored = await this.rows.findVisitorVisits(funnel.id, classification, open);
        for (const visitorKey of open) {
          const now = [
            ...stored.filter((row) => row.visitorKey === visitorKey && !changed.has(row.visitId)),
            ...fresh.filter((row) => row.visitorKey === visitorKey && row.classification === classification),
          ];
          const next = stepDaysOf(now, steps.length);
          const current = docs.get(funnelVisitorId(funnel.id, classification, visitorKey))?.current ?? [];
          if (!sameDays(current, next) && !(current.length === 0 && next.every((days) => days.length === 0)))
            toRecord.push({ visitor: { funnelId: funnel.id, classification, visitorKey }, next });
        }
      }
    }
    await this.rows.recordFunnelVisitors(siteId, batch, toRecord);
    const writtenIds = new Set(written.map((row) => funnelVisitId(row.funnelId, row.visitId, row.classification)));
    const kept = new Set(funnels.map(({ funnel }) => funnel.id));
    await this.rows.writeFunnelVisits(
      siteId,
      written,
      previous.filter((row) => kept.has(row.funnelId) && !writtenIds.has(row._id)).map((row) => row._id),
    );
    // The deltas from the records, the same on a replay whatever the visits have become since.
    const records = (await this.rows.findRecordedFunnelVisitors(batch)).filter(
      (doc) => doc.siteId.toHexString() === siteId,
    );
    const tallies = new Map<string, FunnelTally>();
    for (const doc of records)
      addVisitorChange(tallyOf(tallies, doc.funnelId, doc.classification), doc.current, doc.next ?? []);
    await this.rows.applyFunnelCountDeltas(siteId, batch, [...tallies.values()]);
    await this.rows.finishFunnelVisitors(batch, records);
  }

  /** The step hits of these visits' visitors within the visits' spans (visit ids are checked per visit). */
  private async visitHits(siteId: string, visits: readonly Visit[], steps: GoalDefinition[]): Promise<FunnelRowHit[]> {
    const site = new Types.ObjectId(siteId);
    const byVisitor = new Map<string, { from: Date; to: Date }>();
    for (const visit of visits) {
      const span = byVisitor.get(visit.visitorKey);
      byVisitor.set(visit.visitorKey, {
        from: span && span.from < visit.start ? span.from : visit.start,
        to: span && span.to > visit.end ? span.to : visit.end,
      });
    }
    const keys = [...byVisitor.keys()];
    const found: FunnelRowHit[] = [];
    for (let offset = 0; offset < keys.length; offset += VISITOR_CHUNK) {
      const chunk = keys.slice(offset, offset + VISITOR_CHUNK);
      const from = new Date(Math.min(...chunk.map((key) => byVisitor.get(key)!.from.getTime())));
      const to = new Date(Math.max(...chunk.map((key) => byVisitor.get(key)!.to.getTime())));
      found.push(
        ...(await this.hits.aggregate<FunnelRowHit>([
          {
            $match: {
              siteId: site,
              visitorKey: { $in: chunk },
              ts: { $gte: from, $lte: to },
              ...stepsPrefilter(steps),
            },
          },
          { $project: FUNNEL_HIT_PROJECTION },
        ])),
      );
    }
    return found;
  }

  /** The site's rows are rebuilt (purge, erasure, zone change) or the site is gone: its funnel rows go too. */
  deleteSite(siteId: string): Promise<void> {
    return this.rows.deleteFunnelSite(siteId);
  }
}

function tallyOf(tallies: Map<string, FunnelTally>, funnelId: string, classification: string): FunnelCountTally {
  const key = `${funnelId}|${classification}`;
  const entry = tallies.get(key) ?? { funnelId, classification, tally: new Map() };
  tallies.set(key, entry);
  return entry.tally;
}
