import 'reflect-metadata';
import { Logger, type INestApplication } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { announceReady } from './boot-message.js';
import { ShutdownDeadline } from './common/lifecycle/shutdown-deadline.js';
import { closeLogDestination } from './common/logging/log-destination.js';
import { loadEnvironment } from './config/environment.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * On SIGTERM or SIGINT: close the app within SHUTDOWN_TIMEOUT_MS (see `ShutdownDeadline`: new
 * hits refused, queued ones written, background jobs stopped at their next step, HTTP server and
 * database closed, each phase cut at its deadline and logged with its duration), write out the
 * last log lines, then re-raise the signal so the exit status stays conventional (143 for
 * SIGTERM). Should the close itself not return in time, the process exits anyway at the end of
 * the budget: every hit acknowledged with 202 is already stored by then, so nothing acknowledged
 * is lost. A second signal during this ends the process at once.
 */
function stopOnSignals(app: INestApplication): void {
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    for (const other of STOP_SIGNALS) process.removeListener(other, stop);
    const deadline = app.get(ShutdownDeadline);
    deadline.begin();
    const logger = new Logger('Shutdown');
    logger.log(`${signal} received: stopping within ${deadline.totalMs} ms`);
    const lastResort = setTimeout(() => {
      logger.error(`Not stopped after ${deadline.elapsedMs()} ms: exiting now`);
      void closeLogDestination().finally(() => process.exit(1));
      // The log writer may itself be stuck: exit regardless shortly after.
      setTimeout(() => process.exit(1), 200).unref();
    }, deadline.totalMs);
    lastResort.unref();
    let failed = false;
    try {
      await app.close();
      logger.log(`Stopped in ${deadline.elapsedMs()} ms`);
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
