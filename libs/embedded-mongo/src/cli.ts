import { parseArgs } from 'node:util';
import { EmbeddedMongo } from './index.js';

/**
 * Standalone entry: `node cli.js --port 27017 --data-dir ./data` prints `READY <uri>` once
 * listening and stops cleanly on SIGINT/SIGTERM. Tests spawn it to `kill -9` a real process.
 *
 * The engine runs in a worker thread (`worker.js` always sits beside this compiled file), so the
 * listener keeps answering the driver's heartbeats while a long command or a burst of writes
 * keeps the engine busy: with the engine on the listener's thread, an app under heavy load saw
 * its monitor time out ("interrupted due to server monitor timeout"). `--in-process` runs the
 * engine on the listener's thread instead; `--in-worker` is the default and still accepted.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string' },
    'in-worker': { type: 'boolean', default: false },
    'in-process': { type: 'boolean', default: false },
  },
});
if (values['in-worker'] && values['in-process']) throw new Error('--in-worker and --in-process exclude each other');

const store = await EmbeddedMongo.start({
  port: Number(values.port),
  host: values.host,
  dataDir: values['data-dir'],
  inWorker: !values['in-process'],
});
process.stdout.write(`READY ${store.uri}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void store.stop().then(() => process.exit(0));
  });
}
