import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PERMISSIVE =
  /^(MIT|ISC|Apache-2\.0|BSD-2-Clause|BSD-3-Clause|0BSD|BlueOak-1\.0\.0|CC0-1\.0|Unlicense|Python-2\.0)$/;

/** Packages that declare no licence field; each checked by hand against its own files. */
const CHECKED_BY_HAND: Record<string, string> = {
  'node_modules/pause': 'MIT (its Readme.md, "License: The MIT License"); passport depends on it',
};

interface PackageJson {
  license?: string | { type?: string };
  licenses?: Array<{ type?: string }>;
}

/** The licence(s) a package declares, reading both the current and the legacy `licenses` field. */
function declaredLicences(path: string): string[] {
  const manifest = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as PackageJson;
  if (typeof manifest.license === 'string') return manifest.license.replace(/[()]/g, '').split(/\s+OR\s+/);
  if (manifest.license?.type) return [manifest.license.type];
  return (manifest.licenses ?? []).map((entry) => entry.type ?? '');
}

describe('licences', () => {
  it('every package shipped to production is under a permissive licence', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const production = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && !entry.dev);
    expect(production.length).toBeGreaterThan(50);
    const offending = production
      .map(([path]) => ({ path, licences: declaredLicences(path) }))
      .filter(({ path, licences }) => !CHECKED_BY_HAND[path] && !licences.some((licence) => PERMISSIVE.test(licence)));
    expect(offending).toEqual([]);
  });
});
