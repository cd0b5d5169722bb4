import type { FloodResult, IngestScenarioResult, StatsUnderLoad } from './ingest-scenarios.js';
import type { LoadResult } from './lib/load.js';
import type { FreshStatsResult } from './fresh-stats.js';
import type { GoalsBenchResult } from './goals.js';
import type { StatsScaleResult } from './stats-scale.js';
import type { AppCostResult, SustainedResult, SustainedStep } from './sustained.js';
import type { CollectionFootprint } from './lib/stored-hits.js';

export interface BenchResults {
  startedAt: string;
  machine: { cpu: string; cores: number; memoryGb: number; node: string; store: string };
  ceiling?: LoadResult;
  scenarios?: IngestScenarioResult[];
  statsUnderLoad?: StatsUnderLoad;
  flood?: FloodResult;
  statsScale?: StatsScaleResult;
  freshStats?: FreshStatsResult;
  sustained?: SustainedResult;
  appCost?: AppCostResult;
  goals?: GoalsBenchResult;
  totalSeconds?: number;
}

const number = (value: number): string => value.toLocaleString('en-US');

function ingestTable(results: BenchResults): string[] {
  const { ceiling, scenarios = [], flood } = results;
  if (!ceiling) return [];
  const rows = [
    '| scenario | conns | req/s | hits/s | p50 ms | p99 ms | non-2xx | server CPU | peak RSS | ratio to ceiling |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${ceiling.scenario} | ${ceiling.connections} | ${number(ceiling.reqPerSec)} | ${number(ceiling.hitsPerSec)} | ${ceiling.p50Ms} | ${ceiling.p99Ms} | ${ceiling.non2xx} | ${ceiling.server.cpuPercent}% | ${ceiling.server.peakRssMb} MB | 1.00 |`,
  ];
  for (const row of [...scenarios, ...(flood ? [flood] : [])]) {
    const ratio =
      row.hitsPerRequest > 1
        ? `${row.ratioToCeiling.toFixed(2)} (hits/s ÷ ceiling req/s)`
        : row.ratioToCeiling.toFixed(2);
    rows.push(
      `| ${row.scenario} | ${row.connections} | ${number(row.reqPerSec)} | ${number(row.hitsPerSec)} | ${row.p50Ms} | ${row.p99Ms} | ${number(row.non2xx)} | ${row.server.cpuPercent}% | ${row.server.peakRssMb} MB | ${ratio} |`,
    );
  }
  return rows;
}

function floodLines(flood: FloodResult | undefined): string[] {
  if (!flood) return [];
  const codes = Object.entries(flood.statusCodes)
    .map(([code, count]) => `${code}: ${number(count)}`)
    .join(', ');
  return [
    '',
    `Flood: status codes ${codes}; Retry-After on refusals: ${flood.retryAfterSeen ? 'yes' : 'no'}; peak RSS ${flood.server.peakRssMb} MB ` +
      `(bound ${flood.rssBoundMb} MB: ${flood.server.peakRssMb <= flood.rssBoundMb ? 'held' : 'EXCEEDED'}); acknowledged hits ${number(flood.acceptedHits)}, ` +
      `stored after restart ${number(flood.storedHits)}, lost ${flood.lostAcknowledgedHits}` +
      (flood.storePeakRssMb !== undefined
        ? `; the embedded store ran in its own process (as MongoDB does), peak RSS ${flood.storePeakRssMb} MB, not counted in the bound`
        : '') +
      (flood.killedAfterTimeout
        ? ' (graceful shutdown overran 30 s and the app was killed with SIGKILL before the count).'
        : '.'),
  ];
}

function statsLines(results: BenchResults): string[] {
  const lines: string[] = [];
  if (results.statsUnderLoad) {
    const s = results.statsUnderLoad;
    lines.push(
      '',
      `Stats queries during the single-hit load: ${s.queries} queries, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, failures ${s.failures}.`,
    );
  }
  const scale = results.statsScale;
  if (!scale) return lines;
  lines.push(
    '',
    `Stats over 30 days (median of ${scale.runs ?? 3} after a warm-up), ${number(scale.smallHits)} vs ${number(scale.largeHits)} hits${scale.full ? '' : ' (10^6 needs BENCH_FULL=1: seeding and sessionizing it does not fit the 10-minute budget here)'}:`,
    '',
    `| query | ${number(scale.smallHits)} hits ms | ${number(scale.largeHits)} hits ms | ratio |`,
    '| --- | ---: | ---: | ---: |',
    ...scale.queries.map((q) => `| ${q.query} | ${q.small} | ${q.large} | ${q.ratio}× |`),
    '',
    `Seeding through POST /api/v1/hits (batches of 500, 4 in flight): ${scale.seeding
      .map(
        (s) =>
          `${number(s.hits)} hits at ${number(s.hitsPerSec)} hits/s, sessionizer caught up ${s.firstQuerySeconds}s later`,
      )
      .join('; ')}.`,
  );
  if (scale.storage.length > 0) {
    const hits = scale.smallHits + scale.largeHits;
    lines.push(
      '',
      `Storage after seeding ${number(hits)} hits (${number(scale.seeding.reduce((sum, s) => sum + (s.acknowledged ?? 0), 0))} acknowledged; documents per hit, mean BSON bytes per document):`,
      '',
      ...storageTable(scale.storage, hits),
    );
  }
  return lines;
}

/** The rows of goals and saved funnels: only there when a run created some (the goals on the stats pair). */
const isGoalRows = (c: CollectionFootprint) => /^stats_(goal|funnel)_/.test(c.collection);

/** Documents, bytes and index bytes per collection, and per hit over all of them. */
function storageTable(storage: CollectionFootprint[], hits: number): string[] {
  const bytes = (c: CollectionFootprint) => c.documents * c.averageBytes;
  const total = storage.reduce((sum, c) => sum + bytes(c), 0);
  const goalRows = storage.filter(isGoalRows).reduce((sum, c) => sum + bytes(c), 0);
  const derived = storage.filter((c) => c.collection !== 'hits').reduce((sum, c) => sum + bytes(c), 0);
  const indexTotal = storage.reduce((sum, c) => sum + (c.indexBytes ?? 0), 0);
  const estimated = storage.some((c) => c.indexBytesEstimated);
  return [
    '| collection | documents | per hit | bytes/document | bytes per hit | indexes | index bytes per hit |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...storage.map(
      (c) =>
        `| ${c.collection} | ${number(c.documents)} | ${(c.documents / hits).toFixed(3)} | ${c.averageBytes} | ${Math.round(bytes(c) / hits)} | ${c.indexes ?? '?'} | ${c.indexBytes === undefined ? '?' : Math.round(c.indexBytes / hits)} |`,
    ),
    '',
    `Documents per hit, all collections: ${number(Math.round(total / hits))} B (hits and visits included), of which derived (every collection but hits) ${number(Math.round(derived / hits))} B; ${storage.some((c) => c.indexBytes !== undefined) ? `indexes ${number(Math.round(indexTotal / hits))} B per hit${estimated ? ' (embedded store: estimated from the key sizes, it reports none)' : ''}` : 'index sizes not recorded in this run'}.`,
    ...(goalRows > 0
      ? [
          '',
          `Of those, the rows of the goals and funnels created on these sites: ${number(Math.round(goalRows / hits))} B per hit; without them ${number(Math.round((total - goalRows) / hits))} B per hit.`,
        ]
      : []),
  ];
}

function freshStatsLines(fresh: FreshStatsResult | undefined): string[] {
  if (!fresh) return [];
  return [
    '',
    `Fresh stats: the rollup run absorbing ${number(fresh.newHits)} new hits on a day of ${number(fresh.smallDayHits)} hits took ${fresh.smallDayRunMs ?? '?'} ms, on a day of ${number(fresh.bigDayHits)} hits ${fresh.bigDayRunMs ?? '?'} ms: ratio ${fresh.ratio ?? '?'}× (first build of both days: ${fresh.firstBuildSeconds ?? '?'} s after seeding).`,
    '',
    `Storage with both days rolled up (${number(fresh.smallDayHits + fresh.bigDayHits + 2 * fresh.newHits)} hits):`,
    '',
    ...storageTable(fresh.storage, fresh.smallDayHits + fresh.bigDayHits + 2 * fresh.newHits),
  ];
}

function stepRow(step: SustainedStep, label = `${number(step.rate)}`): string {
  const { load, verdict, cpu } = step;
  const backlog = step.samples.at(-1)?.sessionizerBacklog;
  return (
    `| ${label} | ${step.seconds} | ${number(step.acceptedPerSec)} | ${number(load.refusedHits + load.failedHits + load.notSentHits)} | ` +
    `${verdict.lagSeconds} | ${backlog ?? '?'} | ${cpu.appMainThreadPercent}% + ${cpu.appOtherThreadsPercent}% | ${cpu.storePercent ?? '?'}% | ` +
    `${cpu.appUsPerHit} / ${cpu.storeUsPerHit ?? '?'} | ${step.rollupRuns.busyPercent}% (${number(step.rollupRuns.longestMs)} ms) | ` +
    `${step.overview.status} in ${number(step.overview.ms)} ms | ${step.loadAverage.start[0]}–${step.loadAverage.end[0]} | ${step.cpuPressurePercent ?? '?'}% | ` +
    `${verdict.keptUp ? 'yes' : `no: ${verdict.reasons.join('; ')}`} |`
  );
}

function sustainedLines(sustained: SustainedResult | undefined): string[] {
  if (!sustained) return [];
  const confirmed = sustained.confirm?.verdict.keptUp ?? false;
  return [
    '',
    `Sustained ingest, one site (${sustained.store}; batches of ${sustained.batchSize}, returning visitors, open loop; ` +
      `CPU pressure: the share of the step's last minute in which some task of the machine waited for a CPU). ` +
      `Highest offered rate that kept up over a ${sustained.stepSeconds} s step (stats lag ≤ 2 min over the step's last third, backlogs not growing, ≥ 99% accepted): ` +
      `**${sustained.highestKeptUp === null ? `none (below ${number(sustained.rates[0])} hits/s)` : `${number(sustained.highestKeptUp)} hits/s`}**` +
      (sustained.confirm
        ? `; held for ${sustained.confirm.seconds} s on a fresh app: **${confirmed ? 'yes' : 'no'}**.`
        : '.'),
    '',
    '| offered hits/s | s | accepted/s | not accepted | lag s | sessionizer backlog | app CPU (event loop + other threads) | store CPU | µs/hit app / store | rollup busy (longest run) | one-day overview | load average | CPU pressure | kept up |',
    '| -------------: | -: | ---------: | -----------: | ----: | ------------------: | ----------------------------------: | --------: | -----------------: | ------------------------: | ---------------- | ------------ | -----------: | ------- |',
    ...sustained.steps.map((step) => stepRow(step)),
    ...(sustained.confirm ? [stepRow(sustained.confirm, `${number(sustained.confirm.rate)} (fresh app)`)] : []),
  ];
}

function appCostLines(cost: AppCostResult | undefined): string[] {
  if (!cost) return [];
  return [
    '',
    `App cost (the store in a process of its own): ${number(cost.load.acceptedHits)} hits accepted of ${number(cost.load.offeredHits)} offered at ${cost.rate} hits/s in batches of ${cost.batchSize}, ` +
      `then ${cost.catchUp.seconds} s until maintenance ${cost.catchUp.caughtUp ? 'caught up' : `had still not caught up (sessionizer backlog ${cost.catchUp.sessionizerBacklog ?? '?'} visitors, rollup watermark ${cost.catchUp.rollupBehindLastHitSeconds ?? '?'} s before the last hit)`}: ` +
      `**${cost.appUsPerHit} µs of app CPU per hit** (${cost.appUsPerHitRaw} µs before subtracting the idle app's ${cost.idleAppPercent}% of a core); ` +
      `during ingest ${cost.ingest.appUsPerHit} µs/hit (event loop ${cost.ingest.appMainThreadPercent}%, other threads ${cost.ingest.appOtherThreadsPercent}% of a core), ` +
      `catching up ${cost.catchUp.appUsPerHit} µs/hit; the store ${cost.storeUsPerHit ?? '?'} µs/hit; ` +
      `rollup runs ${number(cost.rollupRuns.totalMs)} ms in all; load average ${cost.loadAverage.start[0]}–${cost.loadAverage.end[0]}, ` +
      `CPU pressure ${cost.cpuPressurePercent ?? '?'}% (share of the last minute some task waited for a CPU).`,
  ];
}

function goalsLines(goals: GoalsBenchResult | undefined): string[] {
  if (!goals) return [];
  return [
    '',
    `Goals: conversion queries (POST /api/v1/stats/query) and a saved funnel (GET /api/v1/stats/funnel) over 30 days, median of ${goals.runs}, ` +
      `${number(goals.smallHits)} vs ${number(goals.largeHits)} hits; rollup caught up: ` +
      `${goals.rollupCaughtUpSeconds === null ? 'no (timed anyway)' : `${goals.rollupCaughtUpSeconds} s after seeding`}` +
      (goals.backfillSeconds === undefined
        ? '.'
        : `; goals and funnel created after that, their past data counted ${goals.backfillSeconds === null ? 'not within the wait (timed anyway)' : `${goals.backfillSeconds} s after`}.`),
    '',
    '| query | small ms | large ms | ratio |',
    '| --- | ---: | ---: | ---: |',
    ...goals.queries.map((row) => `| ${row.query} | ${row.small} | ${row.large} | ${row.ratio} |`),
  ];
}

export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  return [
    `Measured by \`npm run bench\` on ${results.startedAt.slice(0, 10)}: ${m.cores} × ${m.cpu}, ${m.memoryGb} GB RAM, Node ${m.node}, ${m.store}; ` +
      `load generator (${results.sustained || results.appCost ? "the bench's open-loop client" : 'autocannon'}) on the same machine. Whole run ${results.totalSeconds ?? '?'} s.`,
    '',
    ...ingestTable(results),
    ...floodLines(results.flood),
    ...statsLines(results),
    ...freshStatsLines(results.freshStats),
    ...sustainedLines(results.sustained),
    ...appCostLines(results.appCost),
    ...goalsLines(results.goals),
    '',
  ].join('\n');
}
