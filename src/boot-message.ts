import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { isIPv6 } from 'node:net';
import { FirstRunService } from './auth/first-run.service.js';

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

/** The address a person can open: a wildcard listen address is reachable as localhost. */
function browsableBase(host: string, port: number): string {
  if (isWildcard(host)) return `http://localhost:${port}`;
  return isIPv6(host) ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/**
 * The one line a person starting Siteline needs: where the dashboard and the API docs are, and
 * what to do next. While no account exists it carries this process's one-time setup code (see
 * FirstRunService), at warn level so a LOG_LEVEL of warn still shows it; the code is useless once
 * the first admin exists.
 */
export async function announceReady(app: NestFastifyApplication, host: string): Promise<void> {
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const base = browsableBase(host, port);
  const listening = isWildcard(host) ? ` (listening on all interfaces, port ${port})` : '';
  const where = `Siteline is ready: dashboard ${base}/ · API docs ${base}/docs${listening}`;
  const logger = new Logger('Siteline');
  const setupCode = await app.get(FirstRunService).issueSetupCode();
  if (setupCode) {
    logger.warn(
      `${where} · No account yet: open the dashboard and enter the setup code ${setupCode} to create the first admin`,
    );
  } else {
    logger.log(`${where} · Sign in on the dashboard`);
  }
}
