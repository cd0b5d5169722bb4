import type { DynamicModule, Type } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import { CommonModule } from '../../src/common/common.module.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { withTestEnvironment, type TestDatabase } from './test-app.js';

export interface MediumOptions {
  /** Environment variables on top of the test defaults, seen by the configuration at compile time. */
  env?: Record<string, string | undefined>;
  /** Adjust providers before compiling, e.g. `b => b.overrideProvider(Clock).useValue(clock)`. */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Share a database between several modules of one test file. */
  database?: TestDatabase;
}

export interface Medium {
  moduleRef: TestingModule;
  database: TestDatabase;
  /** A provider of the module under test, with its real dependencies. */
  get<T>(token: Type<T>): T;
  close(): Promise<void>;
}

/**
 * The medium test layer: one module as the app wires it (its repositories, schemas and the
 * modules it imports), with the validated configuration, the clock and a real database
 * connection, but no HTTP server and none of the other feature modules. The database is a fresh
 * one on the embedded store, or on the MongoDB in `MONGODB_URI`, as for the e2e tests. Lifecycle
 * hooks run (`init()`), so a service behaves as it does in the app after boot.
 */
export async function startMedium(
  owningModule: Type<unknown> | DynamicModule,
  options: MediumOptions = {},
): Promise<Medium> {
  return withTestEnvironment('siteline-medium-', options, async ({ database, release }) => {
    let builder = Test.createTestingModule({
      imports: [ConfigModule, CommonModule, DatabaseModule.forRoot({ connectRetries: 0 }), owningModule],
    });
    if (options.override) builder = options.override(builder);
    const moduleRef = await builder.compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    return {
      moduleRef,
      database,
      get: <T>(token: Type<T>) => moduleRef.get(token, { strict: false }),
      async close() {
        await moduleRef.close();
        await release();
      },
    };
  });
}
