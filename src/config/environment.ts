import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  IsEmail,
  IsIP,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateIf,
  getMetadataStorage,
  validateSync,
} from 'class-validator';

export const VISITOR_ID_MODES = ['ip', 'ip_ua', 'daily'] as const;
export type VisitorIdMode = (typeof VISITOR_ID_MODES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const DURATION = /^\d+(ms|s|m|h|d)$/;

/** Empty strings in the environment mean "not set", as most twelve-factor tools treat them. */
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/**
 * Every environment variable Siteline reads (documented in docs/configuration.md), with its default and its rule.
 * `loadEnvironment()` validates them all at boot; a bad value stops the boot with a message
 * naming the variable.
 */
export class EnvironmentVariables {
  @Transform(emptyToUndefined)
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** The interface to listen on: every one by default (containers), 127.0.0.1 for local-only runs. */
  @Transform(emptyToUndefined)
  @IsIP(undefined, { message: 'HOST must be an IP address such as 0.0.0.0 or 127.0.0.1' })
  HOST = '0.0.0.0';

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, { message: 'MONGODB_URI must be a mongodb:// or mongodb+srv:// URI' })
  MONGODB_URI?: string;

  @Transform(emptyToUndefined)
  @IsString()
  DATA_DIR = './data';

  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.NODE_ENV === 'production' || env.JWT_SECRET !== undefined)
  @IsString({ message: 'JWT_SECRET must be set (at least 32 characters) when NODE_ENV=production' })
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters (required when NODE_ENV=production)' })
  JWT_SECRET?: string;

  @Transform(emptyToUndefined)
  @Matches(DURATION, { message: 'JWT_ACCESS_TTL must be a duration such as 15m, 1h or 900s' })
  JWT_ACCESS_TTL = '15m';

  @Transform(emptyToUndefined)
  @Matches(DURATION, { message: 'JWT_REFRESH_TTL must be a duration such as 30d or 12h' })
  JWT_REFRESH_TTL = '30d';

  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.NODE_ENV === 'production' || env.VISITOR_SECRET !== undefined)
  @IsString({ message: 'VISITOR_SECRET must be set (at least 32 characters) when NODE_ENV=production' })
  @MinLength(32, { message: 'VISITOR_SECRET must be at least 32 characters (required when NODE_ENV=production)' })
  VISITOR_SECRET?: string;

  @Transform(emptyToUndefined)
  @IsIn(VISITOR_ID_MODES)
  VISITOR_ID_MODE: VisitorIdMode = 'ip';

  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1440)
  SESSION_IDLE_MINUTES = 30;

  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(36500)
  MAX_BACKFILL_DAYS = 3650;

  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(0)
  RETENTION_DAYS = 0;

  @Transform(emptyToUndefined)
  @IsIn(['on', 'off'])
  REVERSE_DNS: 'on' | 'off' = 'on';

  /** Failed logins allowed per account within LOGIN_THROTTLE_WINDOW before 429. */
  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(1)
  LOGIN_MAX_FAILURES_PER_ACCOUNT = 10;

  /** Failed logins allowed per client IP within LOGIN_THROTTLE_WINDOW before 429. */
  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(1)
  LOGIN_MAX_FAILURES_PER_IP = 30;

  @Transform(emptyToUndefined)
  @Matches(DURATION, { message: 'LOGIN_THROTTLE_WINDOW must be a duration such as 15m' })
  LOGIN_THROTTLE_WINDOW = '15m';

  /** Ingest requests per second per site key (burst: twice that); 0 disables the limit. */
  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(0)
  INGEST_KEY_RATE_LIMIT = 2000;

  /** Ingest requests per second per browser IP for key-less (tracker) sends (burst: twice that); 0 disables. */
  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(0)
  INGEST_IP_RATE_LIMIT = 20;

  /**
   * Milliseconds a client gets to send a whole request, and a socket may stay idle, before the
   * server cuts it off (slow or stalled clients must not hold sockets forever).
   */
  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(100)
  HTTP_TIMEOUT_MS = 30_000;

  /**
   * Milliseconds from SIGTERM/SIGINT to the end of the process: drains are cut at their share of
   * it and the process exits at the end of it. 8 s leaves room under the 10 s after which Docker
   * and Kubernetes send SIGKILL; raise it with the orchestrator's grace period.
   */
  @Transform(emptyToUndefined)
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  SHUTDOWN_TIMEOUT_MS = 8_000;

  /** `true`/`false`, a hop count, or a comma-separated list of trusted proxy addresses/CIDRs. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^(true|false|\d+|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, {
    message: 'TRUST_PROXY must be true, false, a hop count or a comma-separated list of addresses/CIDRs',
  })
  TRUST_PROXY?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsEmail({}, { message: 'ADMIN_EMAIL must be an email address' })
  ADMIN_EMAIL?: string;

  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvironmentVariables) => env.ADMIN_EMAIL !== undefined || env.ADMIN_PASSWORD !== undefined)
  @IsString({ message: 'ADMIN_PASSWORD is required when ADMIN_EMAIL is set' })
  @MinLength(10, { message: 'ADMIN_PASSWORD must be at least 10 characters' })
  ADMIN_PASSWORD?: string;

  @Transform(emptyToUndefined)
  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevel = 'info';
}

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** Every variable `EnvironmentVariables` declares, read from its validation metadata. */
export function environmentVariableNames(): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false);
  return [...new Set(metadata.map((entry) => entry.propertyName))];
}

/** Validates `source` (default `process.env`) and returns typed values with defaults applied. */
export function loadEnvironment(source: NodeJS.ProcessEnv = process.env): EnvironmentVariables {
  const picked: Record<string, unknown> = {};
  for (const key of environmentVariableNames()) {
    if (source[key] !== undefined) picked[key] = source[key];
  }
  const env = plainToInstance(EnvironmentVariables, picked, { exposeDefaultValues: true });
  const errors = validateSync(env, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const details = errors.flatMap((error) => Object.values(error.constraints ?? {}).slice(0, 1));
    throw new ConfigurationError(`Invalid configuration: ${details.join('; ')}`);
  }
  return env;
}
