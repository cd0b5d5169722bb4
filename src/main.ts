import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { announceReady } from './boot-message.js';
import { closeLogDestination } from './common/logging/log-destination.js';
import { loadEnvironment } from './config/environment.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * On SIGTERM or SIGINT: close the app (ingest drains its in-flight writes, the database
 * connection closes), write out the last log lines, then re-raise the signal so the exit
 * status stays conventional (143 for SIGTERM). A second signal during this ends the process at once.
 */
function stopOnSignals(app: INestApplication): void {
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    for (const other of STOP_SIGNALS) process.removeListener(other, stop);
    let failed = false;
    try {
      await app.close();
    } catch (error) {
      failed = true;
      console.error('Error during shutdown:', error instanceof Error ? error.stack : error);
    }
    await closeLogDestination();
    if (failed) process.exit(1);
    process.kill(process.pid, signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stop);
}

async function bootstrap(): Promise<void> {
  const env = loadEnvironment();
  const app = await createApp();
  stopOnSignals(app);
  await app.listen({ port: env.PORT, host: env.HOST });
  await announceReady(app, env.HOST);
}

bootstrap().catch((error: unknown) => {
  // Configuration errors name the variable; print them plainly and exit non-zero.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
