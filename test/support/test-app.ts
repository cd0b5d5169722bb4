import type { DynamicModule, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { MongoClient, type Db } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedMongo } from '../../libs/embedded-mongo/src/index.js';
import { configureApp, createFastifyAdapter } from '../../src/app.factory.js';
import { AppModule } from '../../src/app.module.js';

export interface TestDatabase {
  /** URI of a database no other test file uses. */
  uri: string;
  name: string;
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * A fresh database for one test file: on the real MongoDB given by `MONGODB_URI` (a database
 * with a unique name, dropped afterwards), otherwise on an embedded store started for it.
 */
export async function startTestDatabase(): Promise<TestDatabase> {
  const name = `siteline_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const external = process.env.SITELINE_TEST_MONGODB_URI ?? process.env.MONGODB_URI;
  const store = external ? undefined : await EmbeddedMongo.start();
  const uri = external ? withDatabase(external, name) : store!.uriFor(name);
  const client = await MongoClient.connect(uri);
  const db = client.db(name);
  return {
    uri,
    name,
    client,
    db,
    async close() {
      if (external) await db.dropDatabase().catch(() => undefined);
      await client.close();
      await store?.stop();
    },
  };
}

function withDatabase(uri: string, name: string): string {
  const url = new URL(uri);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestAppOptions {
  /** Environment variables for this app (on top of test defaults). */
  env?: Record<string, string | undefined>;
  /** Adjust providers before compiling, e.g. `b => b.overrideProvider(Clock).useValue(clock)`. */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Reuse a database (e.g. two app instances on one store). */
  database?: TestDatabase;
  rootModule?: Type<unknown> | DynamicModule;
}

export interface TestApp {
  app: NestFastifyApplication;
  /** `http://127.0.0.1:PORT` — tests talk to the app over real HTTP. */
  url: string;
  database: TestDatabase;
  dataDir: string;
  close(): Promise<void>;
}

// The first MONGODB_URI the process saw decides where test databases live.
process.env.SITELINE_TEST_MONGODB_URI ??= process.env.MONGODB_URI ?? '';
if (process.env.SITELINE_TEST_MONGODB_URI === '') delete process.env.SITELINE_TEST_MONGODB_URI;

/**
 * Runs `build` in the environment a test-built Siteline reads at compile time: a fresh data
 * directory, the test database (a new one unless given), silent logs and no reverse DNS, plus the
 * caller's variables; `process.env` is put back afterwards. `release` removes the data directory
 * and closes the database when it was started here.
 */
export async function withTestEnvironment<T>(
  dataDirPrefix: string,
  options: { database?: TestDatabase; env?: Record<string, string | undefined> },
  build: (context: { database: TestDatabase; dataDir: string; release: () => Promise<void> }) => Promise<T>,
): Promise<T> {
  const ownsDatabase = !options.database;
  const database = options.database ?? (await startTestDatabase());
  const dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix));
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    MONGODB_URI: database.uri,
    REVERSE_DNS: 'off',
    ...options.env,
  };
  const saved = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  const release = async (): Promise<void> => {
    if (ownsDatabase) await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return await build({ database, dataDir, release });
  } finally {
    process.env = saved;
  }
}

/** Boots the real application (same setup as `main.ts`) on a random loopback port. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  return withTestEnvironment('siteline-test-', options, async ({ database, dataDir, release }) => {
    let builder = Test.createTestingModule({ imports: [options.rootModule ?? AppModule] });
    if (options.override) builder = options.override(builder);
    const moduleRef = await builder.compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(), { bufferLogs: true });
    await configureApp(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return {
      app,
      url: `http://127.0.0.1:${port}`,
      database,
      dataDir,
      async close() {
        await app.close();
        await release();
      },
    };
  });
}
