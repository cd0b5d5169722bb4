import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli.module.js';

/** `npm run cli -- <command>`; errors print one line on stderr and exit non-zero. */
async function main(): Promise<void> {
  await CommandFactory.run(CliModule, {
    logger: ['warn', 'error'],
    cliName: 'siteline',
    serviceErrorHandler: (error) => {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = 1;
    },
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
