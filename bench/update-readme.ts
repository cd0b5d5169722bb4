import { updateReadme } from './lib/readme.js';

/** `npm run bench -- update-readme`: re-inserts the last run's table without running the bench. */
console.log(await updateReadme(process.env.SITELINE_ROOT ?? process.cwd()));
