import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { environmentVariableNames } from '../../src/config/environment.js';

/**
 * No Docker engine runs on the development machines, so `docker compose up` cannot be exercised
 * here; this checks the file's structure against what the deployment needs instead.
 */
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
  env_file?: string;
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  it('runs MongoDB 7 as a single-node replica set on a named volume with a healthcheck', () => {
    const mongo = compose.services.mongo;
    expect(mongo.image).toMatch(/^mongo:7/);
    expect(mongo.command).toEqual(expect.arrayContaining(['--replSet', 'rs0']));
    const [volume] = mongo.volumes ?? [];
    expect(volume).toMatch(/^mongo-data:\/data\/db$/);
    expect(Object.keys(compose.volumes)).toContain('mongo-data');
    expect(mongo.healthcheck?.test.join(' ')).toContain('rs.initiate');
  });

  it('builds the app and starts it only once MongoDB is healthy', () => {
    const app = compose.services.app;
    expect(app.build).toBe('.');
    expect(app.depends_on).toEqual({ mongo: { condition: 'service_healthy' } });
    expect(app.environment?.MONGODB_URI).toBe('mongodb://mongo:27017/siteline?replicaSet=rs0');
    expect(app.environment?.NODE_ENV).toBe('production');
    expect(app.env_file).toBe('.env');
  });

  it('offers a second app instance on the same database behind the scale profile', () => {
    const second = compose.services.app2;
    expect(second.profiles).toEqual(['scale']);
    expect(second.environment?.MONGODB_URI).toBe(compose.services.app.environment?.MONGODB_URI);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');

  it('is multi-stage, installs production dependencies only and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/src\/main.js"\]/);
  });
});

describe('.env.example and docs/configuration.md', () => {
  const declared = environmentVariableNames().sort();

  it('.env.example lists every configuration variable Siteline reads', () => {
    const example = readFileSync('.env.example', 'utf8');
    const listed = [...example.matchAll(/^([A-Z_]+)=/gm)].map((match) => match[1]);
    expect(listed.sort()).toEqual(declared);
  });

  it('docs/configuration.md documents every variable in a table row', () => {
    const doc = readFileSync('docs/configuration.md', 'utf8');
    const documented = new Set(
      [...doc.matchAll(/^\|\s*`([A-Z_]+)`(?:, `([A-Z_]+)`)?\s*\|/gm)].flatMap((m) => m.slice(1).filter(Boolean)),
    );
    expect(declared.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('includes the core variables: server, store, secrets, visitors, retention, first admin, logs', () => {
    expect(declared).toEqual(
      expect.arrayContaining([
        'PORT',
        'MONGODB_URI',
        'DATA_DIR',
        'JWT_SECRET',
        'JWT_ACCESS_TTL',
        'JWT_REFRESH_TTL',
        'VISITOR_SECRET',
        'VISITOR_ID_MODE',
        'SESSION_IDLE_MINUTES',
        'MAX_BACKFILL_DAYS',
        'RETENTION_DAYS',
        'REVERSE_DNS',
        'TRUST_PROXY',
        'ADMIN_EMAIL',
        'ADMIN_PASSWORD',
        'LOG_LEVEL',
      ]),
    );
  });
});
