import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import request from 'supertest';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { BOOTSTRAP_ADMIN, bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const hasChromium = chromiumAvailable('funnel dashboard browser test');
const describeIfChromium = hasChromium ? describe : describe.skip;
jest.setTimeout(90_000);

const SCREENSHOT_DIR = join(process.cwd(), 'test-output');
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';

/** The DOM as the page callbacks use it (the project compiles without the DOM library). */
interface PageElement {
  textContent: string | null;
  hidden: boolean;
  getAttribute(name: string): string | null;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

interface FunnelAnswer {
  visitors: number;
  enteringVisitors: number;
  steps: Array<{ step: number; label: string; visitors: number; dropoff: number }>;
}

describeIfChromium('dashboard: the funnel panel and the segment picker, in Chromium', () => {
  let app: TestApp;
  let token: string;
  let site: CreatedSite;
  let browser: Browser;
  let page: Page;
  let profileDir: string;
  let funnelId: string;
  let segmentId: string;
  let signedUpSegmentId: string;
  const problems: string[] = [];

  const api = async <T>(path: string, params: Record<string, string>): Promise<T> =>
    (await request(app.url).get(`/api/v1${path}`).auth(token, { type: 'bearer' }).query(params).expect(200)).body as T;

  /** The funnel panel as shown: per step its label and the visitors line. */
  const shownSteps = () =>
    page.$$eval('#funnel-steps .funnel-step', (items) =>
      items.map((item) => [
        item.querySelector('.funnel-label')?.textContent ?? '',
        item.querySelector('.funnel-visitors')?.textContent ?? '',
      ]),
    );
  const waitForIdle = () =>
    page.waitForFunction(
      () => {
        const view = document.getElementById('dashboard-view');
        return view !== null && !view.hidden && view.getAttribute('aria-busy') === 'false';
      },
      { timeout: 45_000 },
    );

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    token = (await loginAsBootstrapAdmin(app.url)).accessToken;
    site = await createSite(app.url, token, { domain: 'funnel-ui.example', name: 'Funnel shop', timezone: 'UTC' });
    const key = (await createKey(app.url, token, site.id, ['ingest'])).key;
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
    const hit = (ip: string, minutesAgo: number, path: string, name?: string) => ({
      url: `https://funnel-ui.example${path}`,
      ip,
      timestamp: at(minutesAgo),
      userAgent: FIREFOX,
      ...(name ? { name } : {}),
    });
    // Four visitors: three see /pricing, two of them sign up after it, one signs up only on /.
    await request(app.url)
      .post('/api/v1/hits')
      .auth(key, { type: 'bearer' })
      .send({
        hits: [
          hit('10.5.0.1', 60, '/pricing'),
          hit('10.5.0.1', 58, '/pricing', 'Signup'),
          hit('10.5.0.2', 50, '/pricing'),
          hit('10.5.0.2', 49, '/docs'),
          hit('10.5.0.2', 47, '/docs', 'Signup'),
          hit('10.5.0.3', 40, '/pricing'),
          hit('10.5.0.4', 30, '/'),
          hit('10.5.0.4', 29, '/', 'Signup'),
        ],
      })
      .expect(202);
    await app.app.get(SessionsService).flush();
    const goal = async (body: object) =>
      (
        await request(app.url)
          .post(`/api/v1/sites/${site.id}/goals`)
          .auth(token, { type: 'bearer' })
          .send(body)
          .expect(201)
      ).body.id as string;
    const pricing = await goal({ pagePath: '/pricing' });
    const signup = await goal({ eventName: 'Signup' });
    funnelId = (
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/funnels`)
        .auth(token, { type: 'bearer' })
        .send({ name: 'Pricing to signup', goalIds: [pricing, signup] })
        .expect(201)
    ).body.id as string;
    segmentId = (
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/segments`)
        .auth(token, { type: 'bearer' })
        .send({ name: 'Without docs', filters: [['is_not', 'page', ['/docs']]] })
        .expect(201)
    ).body.id as string;
    signedUpSegmentId = (
      await request(app.url)
        .post(`/api/v1/sites/${site.id}/segments`)
        .auth(token, { type: 'bearer' })
        .send({ name: 'Signed up', filters: [['has_done', 'goal', ['Signup']]] })
        .expect(201)
    ).body.id as string;

    profileDir = mkdtempSync(join(tmpdir(), 'siteline-chromium-'));
    browser = await launchChromium(profileDir);
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn')
        problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await app?.close();
  });

  it('shows each step with the visitors the funnel API answers, and follows the segment picked', async () => {
    await page.goto(app.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#login-form', { visible: true });
    await page.type('#login-email', BOOTSTRAP_ADMIN.email);
    await page.type('#login-password', BOOTSTRAP_ADMIN.password);
    await page.click('#login-submit');
    await page.waitForSelector('#funnel-steps .funnel-step', { visible: true, timeout: 45_000 });
    await waitForIdle();

    const all = await api<FunnelAnswer>('/stats/funnel', { siteId: site.id, funnelId, period: '7d' });
    // Visitor 2 signs up after /pricing within the visit (with /docs between): 3 entered, 2 went on.
    expect(all.steps.map((step) => step.visitors)).toEqual([3, 2]);
    expect(await page.$eval('#funnel-select', (node) => (node as unknown as { value: string }).value)).toBe(funnelId);
    expect(await shownSteps()).toEqual([
      ['Visit /pricing', '3 visitors'],
      ['Signup', '2 visitors'],
    ]);
    expect(await page.$eval('#funnel-summary', (node) => node.textContent)).toBe(
      `3 of 4 visitors entered; 66.7% of them completed every step in one visit.`,
    );

    // The segment drops /docs hits, visitor 2's Signup among them: only visitor 1 completes.
    await page.select('::-p-aria(Segment)', segmentId);
    await page.waitForFunction(
      () => document.querySelectorAll('#funnel-steps .funnel-visitors')[1]?.textContent === '1 visitor',
      { timeout: 45_000 },
    );
    await waitForIdle();
    const segmented = await api<FunnelAnswer>('/stats/funnel', {
      siteId: site.id,
      funnelId,
      period: '7d',
      segment: segmentId,
    });
    expect(segmented.steps.map((step) => step.visitors)).toEqual([3, 1]);
    expect(await shownSteps()).toEqual([
      ['Visit /pricing', '3 visitors'],
      ['Signup', '1 visitor'],
    ]);
    // The overview follows the segment too: 4 visitors, of whom 3 have a hit not on /docs.
    const overview = await api<{ results: { visitors: { value: number } } }>('/stats/overview', {
      siteId: site.id,
      period: '7d',
      segment: segmentId,
    });
    expect(overview.results.visitors.value).toBe(4);

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-funnel.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('applies a segment of visitors who signed up (has_done) to every panel, the Pages panel included', async () => {
    // Visitors 1, 2 and 4 signed up; 1 and 2 after /pricing.
    await page.select('::-p-aria(Segment)', signedUpSegmentId);
    await page.waitForFunction(
      () => document.querySelectorAll('#funnel-steps .funnel-visitors')[0]?.textContent === '2 visitors',
      { timeout: 45_000 },
    );
    await waitForIdle();
    const params = { siteId: site.id, period: '7d', segment: signedUpSegmentId };
    const funnel = await api<FunnelAnswer>('/stats/funnel', { ...params, funnelId });
    expect(funnel.steps.map((step) => step.visitors)).toEqual([2, 2]);
    expect(await shownSteps()).toEqual([
      ['Visit /pricing', '2 visitors'],
      ['Signup', '2 visitors'],
    ]);
    const overview = await api<{ results: { visitors: { value: number } } }>('/stats/overview', params);
    expect(overview.results.visitors.value).toBe(3);
    expect(await page.$eval('[data-metric="visitors"] .metric-value', (node) => node.textContent)).toBe('3');
    // No panel failed: the Pages panel asks for time on page and scroll depth under the segment.
    expect(await page.$eval('#error', (node) => node.textContent)).toBe('');
    expect(await page.$eval('#breakdowns', (node) => node.textContent)).not.toContain('Could not be loaded');
    expect(problems).toEqual([]);
  });
});
