import 'reflect-metadata';
import { createApp } from './app.factory.js';
import { loadEnvironment } from './config/environment.js';

async function bootstrap(): Promise<void> {
  const env = loadEnvironment();
  const app = await createApp();
  await app.listen({ port: env.PORT, host: '0.0.0.0' });
}

bootstrap().catch((error: unknown) => {
  // Configuration errors name the variable; print them plainly and exit non-zero.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
