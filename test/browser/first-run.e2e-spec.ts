import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'puppeteer-core';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { freePort, waitForChildReady } from '../support/child-app.js';
import { spawnApp, type ChildApp } from '../support/compiled-app.js';

const hasChromium = chromiumAvailable('first-run browser test');
const describeIfChromium = hasChromium ? describe : describe.skip;

jest.setTimeout(90_000);

/** What the functions run in the page use of the DOM (the test code is type-checked without the DOM library). */
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

const ADMIN = { email: 'owner@example.com', password: 'the owner passphrase' };

/** The setup code in the boot line of the app's log, as a person reads it off the terminal. */
async function setupCodeFromLog(child: ChildApp): Promise<string> {
  for (let waited = 0; waited < 15_000; waited += 100) {
    const match = /enter the setup code (\S+)/.exec(child.output());
    if (match) return match[1];
    await sleep(100);
  }
  throw new Error(`no setup code in the log:\n${child.output()}`);
}

/**
 * The first run as a newcomer lives it: the compiled app started on an empty DATA_DIR (embedded
 * store, no ADMIN_EMAIL), a browser on its address, the setup code copied from the log, then a
 * first site and its tracker tag, with no other step.
 */
describeIfChromium('first run in the dashboard (Chromium)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-first-run-browser-'));
  let child: ChildApp;
  let url: string;
  let profileDir: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = await spawnApp({ DATA_DIR: dataDir, PORT: String(port), REVERSE_DNS: 'off' });
    await waitForChildReady(url, child);
    profileDir = mkdtempSync(join(tmpdir(), 'siteline-chromium-'));
    browser = await launchChromium(profileDir);
    page = await browser.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (child && child.process.exitCode === null) {
      child.process.kill('SIGTERM');
      await child.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('offers to create the first admin, and refuses a wrong setup code', async () => {
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#setup-form', { visible: true });
    expect(await page.$('#login-view:not([hidden])')).toBeNull();
    await page.type('#setup-code', 'WRNG-WRNG-WRNG');
    await page.type('#setup-email', ADMIN.email);
    await page.type('#setup-password', ADMIN.password);
    await page.click('#setup-submit');
    await page.waitForFunction(() => document.querySelector('#setup-error')?.textContent !== '');
    expect(await page.$eval('#setup-error', (node) => node.textContent)).toMatch(/setup code/);
    // Chromium reports the refused request on the console; that one is expected.
    expect(problems).toEqual([expect.stringContaining('401')]);
    problems.length = 0;
  });

  it('creates the admin with the code from the log, then a site, and shows its tracker tag', async () => {
    const code = await setupCodeFromLog(child);
    await page.$eval('#setup-code', (node) => ((node as unknown as { value: string }).value = ''));
    await page.type('#setup-code', code);
    await page.click('#setup-submit');

    // Signed in as the new admin, with no site yet: the dashboard asks for the first one.
    await page.waitForSelector('#add-site-form', { visible: true });
    expect(await page.$eval('#account-email', (node) => node.textContent)).toBe(ADMIN.email);
    await page.type('#site-domain', 'blog.example');
    await page.type('#site-name', 'My blog');
    await page.click('#add-site-submit');
    await page.waitForSelector('#tracker-snippet', { visible: true });
    const snippet = await page.$eval('#tracker-snippet', (node) => node.textContent ?? '');

    // The tag names the site the API now lists, and the tracker this server serves.
    const tokens = (await (
      await fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ADMIN),
      })
    ).json()) as { accessToken: string };
    const sites = (await (
      await fetch(`${url}/api/v1/sites`, { headers: { authorization: `Bearer ${tokens.accessToken}` } })
    ).json()) as Array<{ id: string; domain: string }>;
    expect(sites).toEqual([expect.objectContaining({ domain: 'blog.example' })]);
    expect(snippet).toBe(`<script defer src="${url}/tracker.js" data-site-id="${sites[0].id}"></script>`);
    expect((await fetch(`${url}/tracker.js`)).status).toBe(200);

    await page.click('#open-statistics');
    await page.waitForSelector('#dashboard-view', { visible: true });
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('Last 7 days'));
    expect(await page.$eval('#site-select', (node) => (node as unknown as { value: string }).value)).toBe(sites[0].id);
    expect(problems).toEqual([]);
  });

  it('no longer offers the setup once the admin exists', async () => {
    expect(await (await fetch(`${url}/api/v1/setup`)).json()).toEqual({ needed: false });
    const fresh = await browser.createBrowserContext();
    try {
      const other = await fresh.newPage();
      await other.goto(url, { waitUntil: 'domcontentloaded' });
      await other.waitForSelector('#login-form', { visible: true });
      expect(await other.$('#setup-view[hidden]')).not.toBeNull();
    } finally {
      await fresh.close();
    }
  });
});
