import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';

/**
 * README blocks filled from bench results: the default run's tables, and the stats scale at
 * 10^6 hits, which needs its own run (`BENCH_FULL=1`, see bench/README.md) because seeding and
 * sessionizing 10^6 hits does not fit the default run's 10-minute budget.
 */
const BLOCKS = [
  { marker: 'bench', results: join('bench', 'results', 'latest.md') },
  { marker: 'bench-full', results: join('bench', 'results', 'full', 'latest.md') },
];

/**
 * Copies each results file into README.md between its markers (formatted with the repository's
 * prettier settings, so `npm run lint` stays green); says which blocks it filled and which not.
 */
export async function updateReadme(root: string): Promise<string> {
  const readmePath = join(root, 'README.md');
  let readme = readFileSync(readmePath, 'utf8');
  const report: string[] = [];
  for (const { marker, results } of BLOCKS) {
    const start = `<!-- ${marker}:start -->`;
    const end = `<!-- ${marker}:end -->`;
    const from = readme.indexOf(start);
    const to = readme.indexOf(end);
    if (from === -1 || to === -1 || to < from) {
      report.push(`README.md has no ${start} … ${end} markers: ${results} not inserted`);
    } else if (!existsSync(join(root, results))) {
      report.push(`${results} does not exist yet: README.md block ${marker} left as it is`);
    } else {
      const table = readFileSync(join(root, results), 'utf8').trim();
      readme = `${readme.slice(0, from + start.length)}\n${table}\n${readme.slice(to)}`;
      report.push(`README.md: block ${marker} updated from ${results}`);
    }
  }
  const options = (await prettier.resolveConfig(readmePath)) ?? {};
  writeFileSync(readmePath, await prettier.format(readme, { ...options, filepath: readmePath }));
  return report.join('\n');
}
