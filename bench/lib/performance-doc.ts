import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { renderMarkdown, type BenchResults } from '../report.js';

export const PERFORMANCE_DOC = join('docs', 'performance.md');

/**
 * Blocks of docs/performance.md filled from bench results: the default run, and the stats scale
 * at 10^6 hits, which needs its own run (`BENCH_FULL=1`, see bench/README.md) because seeding and
 * sessionizing 10^6 hits does not fit the default run's 10-minute budget.
 */
const BLOCKS = [
  { marker: 'bench', results: join('bench', 'results', 'latest.json') },
  { marker: 'bench-full', results: join('bench', 'results', 'full', 'latest.json') },
  { marker: 'bench-sustained', results: join('bench', 'results', 'sustained', 'latest.json') },
  { marker: 'bench-appcost', results: join('bench', 'results', 'appcost', 'latest.json') },
  { marker: 'bench-goals', results: join('bench', 'results', 'goals', 'latest.json') },
];

/**
 * Renders each run's JSON results into docs/performance.md between its markers (formatted with
 * the repository's prettier settings, so `npm run lint` stays green), so no figure there is
 * typed by hand; says which blocks it filled and which not.
 */
export async function writePerformanceDoc(root: string): Promise<string> {
  const { doc, report } = await renderPerformanceDoc(root);
  writeFileSync(join(root, PERFORMANCE_DOC), doc);
  return report.join('\n');
}

/** docs/performance.md as the committed results render it, and what was filled; writes nothing. */
export async function renderPerformanceDoc(root: string): Promise<{ doc: string; report: string[] }> {
  const docPath = join(root, PERFORMANCE_DOC);
  let doc = readFileSync(docPath, 'utf8');
  const report: string[] = [];
  for (const { marker, results } of BLOCKS) {
    const start = `<!-- ${marker}:start -->`;
    const end = `<!-- ${marker}:end -->`;
    const from = doc.indexOf(start);
    const to = doc.indexOf(end);
    if (from === -1 || to === -1 || to < from) {
      report.push(`${PERFORMANCE_DOC} has no ${start} … ${end} markers: ${results} not inserted`);
    } else if (!existsSync(join(root, results))) {
      report.push(`${results} does not exist yet: ${PERFORMANCE_DOC} block ${marker} left as it is`);
    } else {
      const run = JSON.parse(readFileSync(join(root, results), 'utf8')) as BenchResults;
      doc = `${doc.slice(0, from + start.length)}\n${renderMarkdown(run).trim()}\n${doc.slice(to)}`;
      report.push(`${PERFORMANCE_DOC}: block ${marker} written from ${results}`);
    }
  }
  const options = (await prettier.resolveConfig(docPath)) ?? {};
  return { doc: await prettier.format(doc, { ...options, filepath: docPath }), report };
}
