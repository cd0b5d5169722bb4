import { writePerformanceDoc } from './lib/performance-doc.js';

/**
 * `npm run bench:report`: rewrites the generated blocks of docs/performance.md from the committed
 * results (bench/results/latest.json, bench/results/full/latest.json) without running the bench.
 */
console.log(await writePerformanceDoc(process.env.SITELINE_ROOT ?? process.cwd()));
