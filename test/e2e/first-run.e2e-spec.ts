import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { FirstRunService } from '../../src/auth/first-run.service.js';
import { startTestApp, startTestDatabase, type TestApp, type TestDatabase } from '../support/test-app.js';
import { bootstrapAdminEnv } from '../factories/users.js';

const ADMIN = { email: 'first@example.com', password: 'a first admin passphrase' };

/** What the boot line does: issue this instance's one-time setup code. */
async function issueCode(app: TestApp): Promise<string> {
  const code = await app.app.get(FirstRunService).issueSetupCode();
  if (!code) throw new Error('no setup code issued: an account exists');
  return code;
}

describe('first run: creating the first admin with the setup code', () => {
  let database: TestDatabase;
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const app = await startTestApp({
      database,
      env: { JWT_SECRET: 'a-shared-secret-for-every-instance-0123', ...env },
    });
    apps.push(app);
    return app;
  };

  beforeEach(async () => {
    database = await startTestDatabase();
  });

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await database.close();
  });

  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  it('says setup is needed, refuses a wrong code, creates the admin with the right one, then refuses any more', async () => {
    const app = await start();
    const code = await issueCode(app);
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect((await request(app.url).get('/api/v1/setup')).body).toEqual({ needed: true });

    const wrong = await request(app.url)
      .post('/api/v1/setup')
      .send({ setupCode: 'AAAA-BBBB-CCCC', ...ADMIN });
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toMatch(/setup code/);
    const missing = await request(app.url).post('/api/v1/setup').send({ setupCode: code, password: ADMIN.password });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/email/);
    const short = await request(app.url)
      .post('/api/v1/setup')
      .send({ setupCode: code, email: ADMIN.email, password: 'short' });
    expect(short.status).toBe(400);
    expect(await database.db.collection('users').countDocuments()).toBe(0);

    // Case and dashes do not matter: a person may type the code in lower case.
    const created = await request(app.url)
      .post('/api/v1/setup')
      .send({ setupCode: code.toLowerCase().replace(/-/g, ''), ...ADMIN });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(
      expect.objectContaining({
        tokenType: 'Bearer',
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
      }),
    );
    const me = await request(app.url).get('/api/v1/auth/me').set('authorization', `Bearer ${created.body.accessToken}`);
    expect(me.body).toEqual(expect.objectContaining({ email: ADMIN.email, role: 'admin' }));
    const login = await request(app.url).post('/api/v1/auth/login').send(ADMIN);
    expect(login.status).toBe(200);

    expect((await request(app.url).get('/api/v1/setup')).body).toEqual({ needed: false });
    const again = await request(app.url)
      .post('/api/v1/setup')
      .send({ setupCode: code, email: 'second@example.com', password: ADMIN.password });
    expect(again.status).toBe(409);
    expect(await app.app.get(FirstRunService).issueSetupCode()).toBeUndefined();

    // Only a hash of the code was ever kept, and in memory: the database holds no trace of it.
    const bare = code.replace(/-/g, '');
    for (const { name } of await database.db.listCollections().toArray()) {
      const dump = JSON.stringify(await database.db.collection(name).find().toArray());
      expect(dump).not.toContain(bare);
      expect(dump).not.toContain(code);
    }
  });

  it('creates exactly one admin when several instances on one database are set up at the same moment', async () => {
    // One after the other: startTestApp sets process.env while it boots.
    const instances = [await start(), await start(), await start()];
    const codes = await Promise.all(instances.map(issueCode));
    const answers = await Promise.all(
      instances.flatMap((app, index) =>
        [0, 1].map((attempt) =>
          request(app.url)
            .post('/api/v1/setup')
            .send({
              setupCode: codes[index],
              email: `admin-${index}-${attempt}@example.com`,
              password: ADMIN.password,
            }),
        ),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await database.db.collection('users').countDocuments()).toBe(1);
  });

  it('rate-limits wrong codes like failed logins', async () => {
    const app = await start({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '30' });
    const code = await issueCode(app);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const wrong = await request(app.url)
        .post('/api/v1/setup')
        .send({ setupCode: `WRNG-WRNG-WRN${attempt}`, ...ADMIN });
      expect(wrong.status).toBe(401);
    }
    // Even the right code waits out the window once the wrong guesses are used up.
    const limited = await request(app.url)
      .post('/api/v1/setup')
      .send({ setupCode: code, ...ADMIN });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('is not offered when ADMIN_EMAIL created the first admin at boot', async () => {
    const app = await start(bootstrapAdminEnv);
    expect((await request(app.url).get('/api/v1/setup')).body).toEqual({ needed: false });
    expect(await app.app.get(FirstRunService).issueSetupCode()).toBeUndefined();
    const answer = await request(app.url)
      .post('/api/v1/setup')
      .send({ setupCode: 'AAAA-BBBB-CCCC', ...ADMIN });
    expect(answer.status).toBe(409);
  });
});
