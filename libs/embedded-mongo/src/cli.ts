import { parseArgs } from 'node:util';
import { EmbeddedMongo } from './index.js';

/**
 * Standalone entry: `node cli.js --port 27017 --data-dir ./data` prints `READY <uri>` once
 * listening and stops cleanly on SIGINT/SIGTERM. Tests spawn it to `kill -9` a real process.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string' },
    'in-worker': { type: 'boolean', default: false },
  },
});

const store = await EmbeddedMongo.start({
  port: Number(values.port),
  host: values.host,
  dataDir: values['data-dir'],
  inWorker: values['in-worker'],
});
process.stdout.write(`READY ${store.uri}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void store.stop().then(() => process.exit(0));
  });
}
