import { peekCommandName } from '../../libs/embedded-mongo/src/wire.js';
import { startWireProxy } from './wire-proxy.js';
import { HOUSEKEEPING } from './wire-recording.js';

/**
 * A proxy between an app and its store (wire-proxy.ts) that counts the app's commands by name (the driver's
 * housekeeping left out): how many store round trips a piece of the app's work took. `reset`
 * starts a new count, `counts` reads it.
 */
export interface CountingProxy {
  port: number;
  counts(): Record<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startCountingProxy(storePort: number): Promise<CountingProxy> {
  let counts: Record<string, number> = {};
  const proxy = await startWireProxy(storePort, () => ({
    fromApp(message) {
      const name = peekCommandName(message) ?? 'unknown';
      if (!HOUSEKEEPING.has(name)) counts[name] = (counts[name] ?? 0) + 1;
    },
  }));
  return {
    port: proxy.port,
    counts: () => ({ ...counts }),
    reset() {
      counts = {};
    },
    stop: () => proxy.stop(),
  };
}
