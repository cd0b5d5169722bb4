import { describe, expect, it } from '@jest/globals';
import { hashPassword, needsRehash, verifyPassword } from './password-hasher.js';

const cheap = { N: 2 ** 10, r: 8, p: 1 };

describe('password hashing', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const hash = await hashPassword('correct horse battery', cheap);
    expect(hash).toMatch(/^scrypt\$N=1024,r=8,p=1\$[\w-]+\$[\w-]+$/);
    expect(hash).not.toContain('correct horse battery');
    await expect(verifyPassword('correct horse battery', hash)).resolves.toBe(true);
    await expect(verifyPassword('correct horse batterY', hash)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same password!', cheap), hashPassword('same password!', cheap)]);
    expect(a).not.toBe(b);
  });

  it('uses N=2^15 by default and flags weaker hashes for an upgrade', async () => {
    const strong = await hashPassword('a long enough password');
    expect(strong).toMatch(/^scrypt\$N=32768,r=8,p=1\$/);
    expect(needsRehash(strong)).toBe(false);
    expect(needsRehash(await hashPassword('a long enough password', cheap))).toBe(true);
    await expect(verifyPassword('a long enough password', strong)).resolves.toBe(true);
  });

  it('rejects malformed stored hashes instead of throwing', async () => {
    await expect(verifyPassword('anything', 'plain-text')).resolves.toBe(false);
    expect(needsRehash('plain-text')).toBe(true);
  });
});
