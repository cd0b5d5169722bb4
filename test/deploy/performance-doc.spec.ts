import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { PERFORMANCE_DOC, renderPerformanceDoc } from '../../bench/lib/performance-doc.js';

describe('docs/performance.md', () => {
  it('shows exactly what the committed bench results render (run `npm run bench:report` after a bench run)', async () => {
    const { doc, report } = await renderPerformanceDoc(process.cwd());
    expect(report.every((line) => line.includes('written from'))).toBe(true);
    expect(readFileSync(PERFORMANCE_DOC, 'utf8')).toBe(doc);
  });
});
