import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

/**
 * Copies bench/results/latest.md into README.md between the bench markers (formatted with the
 * repository's prettier settings, so `npm run lint` stays green); says so when they are missing.
 */
export async function updateReadme(root: string): Promise<string> {
  const readmePath = join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const table = readFileSync(join(root, 'bench', 'results', 'latest.md'), 'utf8').trim();
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    return `README.md has no ${START} … ${END} markers: nothing inserted (the table is in bench/results/latest.md).`;
  }
  const updated = `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
  const options = (await prettier.resolveConfig(readmePath)) ?? {};
  writeFileSync(readmePath, await prettier.format(updated, { ...options, filepath: readmePath }));
  return 'README.md: benchmark table updated from bench/results/latest.md';
}
