import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConflictException } from '@nestjs/common';
import { AuthModule } from '../../src/auth/auth.module.js';
import { UsersService } from '../../src/auth/users.service.js';
import { startMedium, type Medium } from '../support/medium.js';

const FIRST_ADMIN = { email: 'First.Admin@Example.com', password: 'first-admin-passphrase' };

describe('UsersService against the store', () => {
  let medium: Medium;
  let users: UsersService;

  beforeAll(async () => {
    medium = await startMedium(AuthModule, {
      env: { ADMIN_EMAIL: FIRST_ADMIN.email, ADMIN_PASSWORD: FIRST_ADMIN.password },
    });
    users = medium.get(UsersService);
  });

  afterAll(async () => {
    await medium.close();
  });

  it('creates the first admin from ADMIN_EMAIL at boot, with the password stored only hashed', async () => {
    const [admin] = await users.list();
    expect(admin).toMatchObject({ email: 'first.admin@example.com', role: 'admin' });
    const documents = await medium.database.db.collection('users').find({}).toArray();
    expect(documents).toHaveLength(1);
    expect(JSON.stringify(documents)).not.toContain(FIRST_ADMIN.password);
  });

  it('does not create the first admin again when an account exists (a second boot)', async () => {
    const again = await startMedium(AuthModule, {
      database: medium.database,
      env: { ADMIN_EMAIL: 'other.admin@example.com', ADMIN_PASSWORD: 'other-admin-passphrase' },
    });
    await again.close();
    expect((await users.list()).map((user) => user.email)).toEqual(['first.admin@example.com']);
  });

  it('refuses a second account with the same email in another case (unique index on the lowercased email)', async () => {
    await expect(
      users.createUser({ email: 'FIRST.ADMIN@example.com', password: 'another-passphrase', role: 'viewer' }),
    ).rejects.toBeInstanceOf(ConflictException);
  });

  it('never leaves the site without an admin when the last two demote each other at the same moment', async () => {
    const second = await users.createUser({
      email: 'second@example.com',
      password: 'second-passphrase',
      role: 'admin',
    });
    const [first] = (await users.list()).filter((user) => user.email === 'first.admin@example.com');

    const outcomes = await Promise.allSettled([
      users.update(first.id, { role: 'viewer' }),
      users.update(second.id, { role: 'viewer' }),
    ]);

    // Each demotion either happened, or was refused with 409 and put back: at least one admin left.
    const roles = new Map((await users.list()).map((user) => [user.id, user.role]));
    expect([...roles.values()].filter((role) => role === 'admin').length).toBeGreaterThanOrEqual(1);
    [first.id, second.id].forEach((id, index) => {
      const outcome = outcomes[index];
      if (outcome.status === 'fulfilled') expect(roles.get(id)).toBe('viewer');
      else {
        expect(outcome.reason).toBeInstanceOf(ConflictException);
        expect(roles.get(id)).toBe('admin');
      }
    });
  });
});
