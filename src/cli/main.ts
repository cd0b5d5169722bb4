import 'reflect-metadata';
import type { LoggerService } from '@nestjs/common';
import { CommandFactory } from 'nest-commander';
import { resolve } from 'node:path';
import { inspect } from 'node:util';
import { loadEnvironment } from '../config/environment.js';
import { MongoTarget } from '../database/mongo-target.js';
import { CliModule } from './cli.module.js';

const printLine = (line: string): void => void process.stderr.write(`${line}\n`);
const firstLine = (message: unknown): string =>
  (message instanceof Error ? message.message : typeof message === 'string' ? message : inspect(message)).split(
    '\n',
  )[0];

/**
 * Nest's own messages as single lines on stderr. The error that stops a run reaches Nest's
 * ExceptionHandler (which would print its stack) and then `main`, which prints it once with what
 * to do, so the handler's copy is dropped.
 */
const oneLineLogger: LoggerService = {
  log: () => undefined,
  warn: (message: unknown) => printLine(`warning: ${firstLine(message)}`),
  error: (message: unknown, ...context: unknown[]) => {
    // MongooseModule announces a failed connection before the error itself reaches `main`.
    if (!context.includes('ExceptionHandler') && !context.includes('MongooseModule'))
      printLine(`error: ${firstLine(message)}`);
  },
};

/** A failure as one line saying what went wrong and what to do about it. */
function describeFailure(error: unknown): string {
  const message = firstLine(error);
  const locked = /^embedded-mongo: dataDir (.+) is in use by process (\d+)$/.exec(message);
  if (locked) {
    return (
      `the embedded store in ${locked[1]} is held by process ${locked[2]}, which does not say (yet) where it ` +
      'listens: if that is a Siteline still starting, run the command again in a moment; otherwise stop it, ' +
      'or set MONGODB_URI to the database it uses'
    );
  }
  if (error instanceof Error && /ServerSelectionError$/.test(error.name)) {
    // The driver's message names the host and port only, never the URI's credentials.
    return `no database answers (${message}): start it, or fix MONGODB_URI (unset, the embedded store in DATA_DIR is used)`;
  }
  if (error instanceof Error && error.name === 'ConfigurationError') {
    return `${message} (set it in the environment or in .env)`;
  }
  return message;
}

/**
 * Without MONGODB_URI the CLI uses the embedded store in DATA_DIR. A running server holds that
 * store (its files are locked) but serves it on a loopback port recorded in the lock file: the
 * CLI then connects there, as it would to any MongoDB, instead of opening the files itself.
 */
function useRunningEmbeddedStore(): void {
  const env = loadEnvironment();
  if (env.MONGODB_URI) return;
  const uri = MongoTarget.runningEmbeddedStoreUri(resolve(env.DATA_DIR));
  if (uri) process.env.MONGODB_URI = uri;
}

/** `npm run cli -- <command>`; every failure prints one line on stderr and exits non-zero. */
async function main(): Promise<void> {
  useRunningEmbeddedStore();
  await CommandFactory.run(CliModule, {
    logger: oneLineLogger,
    abortOnError: false,
    cliName: 'siteline',
    serviceErrorHandler: (error) => {
      printLine(`error: ${describeFailure(error)}`);
      process.exitCode = 1;
    },
  });
}

function fail(error: unknown): void {
  printLine(`error: ${describeFailure(error)}`);
  process.exit(1);
}

// A failure outside the command's own promise (a background write of the import, say) must end
// the same way, not with Node's stack trace.
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

main().catch(fail);
