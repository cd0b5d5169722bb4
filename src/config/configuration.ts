import { registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { durationToSeconds } from './duration.js';
import { loadEnvironment } from './environment.js';
import { persistedSecret } from './secrets.js';

/**
 * One validated config object per concern. Each factory re-reads the environment when the
 * application is created (not when this file is imported), so tests can boot apps with
 * different settings in one process.
 */
export const appConfig = registerAs('app', () => {
  const env = loadEnvironment();
  return {
    nodeEnv: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    port: env.PORT,
    dataDir: resolve(env.DATA_DIR),
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    httpTimeoutMs: env.HTTP_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  };
});

export const databaseConfig = registerAs('database', () => {
  const env = loadEnvironment();
  return { uri: env.MONGODB_URI, dataDir: resolve(env.DATA_DIR) };
});

export const authConfig = registerAs('auth', () => {
  const env = loadEnvironment();
  return {
    jwtSecret: env.JWT_SECRET ?? persistedSecret(resolve(env.DATA_DIR), 'jwt'),
    issuer: 'siteline',
    audience: 'siteline-api',
    accessTtlSeconds: durationToSeconds(env.JWT_ACCESS_TTL),
    refreshTtlSeconds: durationToSeconds(env.JWT_REFRESH_TTL),
    adminEmail: env.ADMIN_EMAIL,
    adminPassword: env.ADMIN_PASSWORD,
    loginMaxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    loginMaxFailuresPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
    loginThrottleWindowSeconds: durationToSeconds(env.LOGIN_THROTTLE_WINDOW),
  };
});

export const trackingConfig = registerAs('tracking', () => {
  const env = loadEnvironment();
  return {
    visitorSecret: env.VISITOR_SECRET ?? persistedSecret(resolve(env.DATA_DIR), 'visitor'),
    visitorIdMode: env.VISITOR_ID_MODE,
    sessionIdleMinutes: env.SESSION_IDLE_MINUTES,
    maxBackfillDays: env.MAX_BACKFILL_DAYS,
    retentionDays: env.RETENTION_DAYS,
    reverseDns: env.REVERSE_DNS === 'on',
    ingestKeyRateLimit: env.INGEST_KEY_RATE_LIMIT,
    ingestIpRateLimit: env.INGEST_IP_RATE_LIMIT,
  };
});

export type AppConfig = ReturnType<typeof appConfig>;
export type DatabaseConfig = ReturnType<typeof databaseConfig>;
export type AuthConfig = ReturnType<typeof authConfig>;
export type TrackingConfig = ReturnType<typeof trackingConfig>;
