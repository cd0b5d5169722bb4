import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

/** Debian's chromium (what `.ci/run` installs), or `CHROMIUM_PATH`. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether a browser test can run here; when not, it says so once and reports itself skipped. */
export function chromiumAvailable(testName: string): boolean {
  const found = existsSync(CHROMIUM);
  if (!found) console.warn(`Skipping the ${testName}: no Chromium at ${CHROMIUM} (.ci/run installs it with apt-get).`);
  return found;
}

/**
 * Headless chromium on its own profile directory (the caller creates and removes it), with
 * nothing running in the background that could reach the network or disturb timings.
 */
export function launchChromium(profileDir: string, extraArgs: string[] = []): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profileDir}`,
      ...extraArgs,
    ],
  });
}
