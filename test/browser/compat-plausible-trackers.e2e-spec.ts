import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ObjectId } from 'mongodb';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'puppeteer-core';
import request from 'supertest';
import { createIngestSite, type IngestSite } from '../factories/hit-fixtures.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const hasChromium = chromiumAvailable('Plausible trackers browser test');
const describeIfChromium = hasChromium ? describe : describe.skip;

jest.setTimeout(120_000);

/** A visitor's ordinary browser: headless Chromium's own user agent is (rightly) a bot. */
const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/**
 * The two official Plausible npm trackers, unchanged, loaded from node_modules by a page this test
 * serves, in Chromium, and given Siteline as their endpoint. Each client site has a host name of
 * its own under `.example`, which Chromium resolves to this machine, so the trackers see an
 * ordinary site (not localhost) and send its Origin.
 */
const TRACKERS = {
  /** `plausible-tracker` 0.3.x: `Plausible({ domain, apiHost })`, XHR `text/plain`. No revenue option. */
  'plausible-tracker': {
    revenue: false,
    module: `
      import Plausible from '/modules/plausible-tracker/index.js';
      const tracker = Plausible({ domain: SITE_DOMAIN, apiHost: SITELINE });
      window.send = (name, options = {}) => new Promise((resolve) =>
        name === 'pageview'
          ? tracker.trackPageview(undefined, { callback: resolve })
          : tracker.trackEvent(name, { props: options.props, callback: resolve }));`,
  },
  /** `@plausible-analytics/tracker` 0.4.x: `init({ domain, endpoint })`, fetch `text/plain`, engagement events. */
  '@plausible-analytics/tracker': {
    revenue: true,
    module: `
      import { init, track } from '/modules/@plausible-analytics/tracker/plausible.js';
      // The tracker ignores browsers driven by automation (navigator.webdriver) unless this flag is set.
      window.__plausible = true;
      init({ domain: SITE_DOMAIN, endpoint: SITELINE + '/api/event', autoCapturePageviews: false, logging: false });
      window.send = (name, options = {}) => new Promise((resolve) => track(name, { ...options, callback: resolve }));`,
  },
} as const;

type TrackerName = keyof typeof TRACKERS;

/** Where each tracker's files are, by URL prefix; extension-less imports (plausible-tracker's) get `.js`. */
const MODULE_ROOTS: Record<string, string> = {
  '/modules/plausible-tracker/': 'node_modules/plausible-tracker/build/module/',
  '/modules/@plausible-analytics/tracker/': 'node_modules/@plausible-analytics/tracker/',
};

describeIfChromium('official Plausible trackers against Siteline (Chromium)', () => {
  let app: TestApp;
  let admin: string;
  let clientServer: Server;
  let clientPort: number;
  let browser: Browser;
  let profileDir: string;
  /** Host name → which tracker its pages load and the Siteline site it reports to. */
  const clientSites = new Map<string, { tracker: TrackerName; site: IngestSite }>();

  beforeAll(async () => {
    app = await startTestApp({ env: { ...bootstrapAdminEnv } });
    admin = (await loginAsBootstrapAdmin(app.url)).accessToken;
    clientServer = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const root = Object.keys(MODULE_ROOTS).find((prefix) => path.startsWith(prefix));
      if (root) {
        const relative = normalize(path.slice(root.length)).replace(/^(\.\.[/\\])+/, '');
        let file = join(process.cwd(), MODULE_ROOTS[root], relative);
        if (!existsSync(file)) file += '.js';
        if (!existsSync(file)) return void res.writeHead(404).end();
        return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(file));
      }
      const client = clientSites.get((req.headers.host ?? '').split(':')[0]);
      if (!client) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>${path}</title></head><body>
        <h1>${path}</h1><div style="height: 4000px"></div>
        <script type="module">
          const SITE_DOMAIN = ${JSON.stringify(client.site.domain)};
          const SITELINE = ${JSON.stringify(app.url)};
          ${TRACKERS[client.tracker].module}
          window.trackerReady = true;
        </script></body></html>`);
    });
    await new Promise<void>((resolve) => clientServer.listen(0, '127.0.0.1', resolve));
    clientPort = (clientServer.address() as { port: number }).port;
    profileDir = mkdtempSync(join(tmpdir(), 'siteline-plausible-trackers-'));
    browser = await launchChromium(profileDir, ['--host-resolver-rules=MAP *.example 127.0.0.1']);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => clientServer?.close(resolve));
    await app?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  async function open(page: Page, host: string, path: string): Promise<void> {
    await page.goto(`http://${host}:${clientPort}${path}`);
    await page.waitForFunction('window.trackerReady === true');
  }

  /** Calls the tracker in the page and waits for its callback (the answer to its request). */
  async function send(page: Page, name: string, options: Record<string, unknown> = {}): Promise<void> {
    await page.evaluate(`window.send(${JSON.stringify(name)}, ${JSON.stringify(options)})`);
  }

  async function stored(collection: 'hits' | 'engagements', site: IngestSite) {
    return app.database.db
      .collection(collection)
      .find({ siteId: new ObjectId(site.siteId) })
      .sort({ _id: 1 })
      .toArray();
  }

  it.each(Object.keys(TRACKERS) as TrackerName[])(
    '%s records exactly the page views, events, props and revenue of a hand-checked visit',
    async (tracker) => {
      const host = `${tracker.replace(/[^a-z]+/g, '-').replace(/^-/, '')}-${Date.now()}.example`;
      const site = await createIngestSite(app, { domain: host });
      clientSites.set(host, { tracker, site });
      const page = await browser.newPage();
      await page.setUserAgent(CHROME_UA);
      const answers: Array<{ status: number; dropped?: string }> = [];
      page.on('response', (response) => {
        if (response.url().endsWith('/api/event') && response.request().method() === 'POST') {
          answers.push({ status: response.status(), dropped: response.headers()['x-plausible-dropped'] });
        }
      });

      // The visit: 3 page views; Signup (plan pro) on /pricing; Signup (plan free) and,
      // where the tracker can send revenue, Purchase (EUR 12.50) on /checkout.
      await open(page, host, '/');
      await send(page, 'pageview');
      await open(page, host, '/pricing?utm_source=newsletter');
      await send(page, 'pageview');
      await send(page, 'Signup', { props: { plan: 'pro' } });
      await open(page, host, '/checkout');
      await send(page, 'pageview');
      await send(page, 'Signup', { props: { plan: 'free' } });
      if (TRACKERS[tracker].revenue) await send(page, 'Purchase', { revenue: { currency: 'EUR', amount: 12.5 } });
      await page.goto('about:blank');
      await page.close();

      const expectedEvents = TRACKERS[tracker].revenue ? 6 : 5;
      // Every event the page sent was answered 202 and none was flagged as dropped.
      expect(answers.slice(0, expectedEvents)).toEqual(
        Array.from({ length: expectedEvents }, () => ({ status: 202, dropped: undefined })),
      );

      const hits = await stored('hits', site);
      const expected = [
        {
          name: 'pageview',
          path: '/',
          props: undefined,
          revenueAmount: undefined,
          revenueCurrency: undefined,
          utmSource: undefined,
        },
        {
          name: 'pageview',
          path: '/pricing',
          props: undefined,
          revenueAmount: undefined,
          revenueCurrency: undefined,
          utmSource: 'newsletter',
        },
        {
          name: 'Signup',
          path: '/pricing',
          props: { plan: 'pro' },
          revenueAmount: undefined,
          revenueCurrency: undefined,
          utmSource: 'newsletter',
        },
        {
          name: 'pageview',
          path: '/checkout',
          props: undefined,
          revenueAmount: undefined,
          revenueCurrency: undefined,
          utmSource: undefined,
        },
        {
          name: 'Signup',
          path: '/checkout',
          props: { plan: 'free' },
          revenueAmount: undefined,
          revenueCurrency: undefined,
          utmSource: undefined,
        },
      ];
      if (TRACKERS[tracker].revenue) {
        expected.push({
          name: 'Purchase',
          path: '/checkout',
          props: undefined,
          revenueAmount: 12.5 as never,
          revenueCurrency: 'EUR' as never,
          utmSource: undefined,
        });
      }
      expect(
        hits.map(({ name, path, props, revenueAmount, revenueCurrency, utmSource }) => ({
          name,
          path,
          props,
          revenueAmount,
          revenueCurrency,
          utmSource,
        })),
      ).toEqual(expected);
      expect(hits.every((hit) => hit.classification === 'USER' && hit.host === host && hit.browser === 'Chrome')).toBe(
        true,
      );

      const today = new Date().toISOString().slice(0, 10);
      const overview = await request(app.url)
        .get('/api/v1/stats/overview')
        .query({ siteId: site.siteId, from: today, to: today })
        .auth(admin, { type: 'bearer' })
        .expect(200);
      expect(overview.body.results.pageviews.value).toBe(3);
      expect(overview.body.results.visitors.value).toBe(1);

      if (tracker === '@plausible-analytics/tracker') {
        // The tracker reports engagement (time visible and focused, scroll depth) for each page it
        // leaves; they are stored apart and changed none of the counts above.
        let engagements = await stored('engagements', site);
        for (let waited = 0; engagements.length === 0 && waited < 5000; waited += 250) {
          await sleep(250);
          engagements = await stored('engagements', site);
        }
        expect(engagements.length).toBeGreaterThan(0);
        for (const record of engagements) {
          expect(['/', '/pricing', '/checkout']).toContain(record.path);
          expect(record.engagementMs).toBeGreaterThanOrEqual(0);
          expect(record.scrollDepth).toBeGreaterThanOrEqual(0);
          expect(record.scrollDepth).toBeLessThanOrEqual(100);
        }
        expect(await stored('hits', site)).toHaveLength(expected.length);
      }
    },
  );
});
