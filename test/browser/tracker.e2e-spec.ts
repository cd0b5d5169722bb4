import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ObjectId, type Document } from 'mongodb';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { createSite, type CreatedSite } from '../factories/sites.js';
import { bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const hasChromium = chromiumAvailable('tracker browser test');
const describeIfChromium = hasChromium ? describe : describe.skip;

// A real browser on a busy CI machine: give each step room beyond Jest's 30 s default.
jest.setTimeout(90_000);

/** Visitors are people with an ordinary browser: headless Chromium's own user agent is (rightly) a bot. */
const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
/** The page the visitor came from. Chromium's default policy sends only its origin to another site. */
const REFERRING_PAGE = 'http://news.example.org/story/42?from=frontpage';
/** How long the slow link holds each chunk the browser sends before the app sees it. */
const SLOW_LINK_DELAY_MS = 1000;

/**
 * What the callbacks run inside the page use of the DOM. The project compiles without the DOM
 * library (it is a server), so the page is described here, for this file only.
 */
declare const window: {
  location: { href: string; hash: string };
  history: { pushState(state: unknown, unused: string, url: string): void; replaceState(...args: unknown[]): void };
  navigator: { doNotTrack: string | null; sendBeacon?: unknown };
  localStorage: { length: number };
  sessionStorage: { length: number };
  Navigator: { prototype: object };
};
declare const document: { cookie: string; referrer: string };

/** A POST of the tracker to the ingest endpoint, as Chromium made it. */
interface Send {
  request: HTTPRequest;
  /** The page URL the tracker reported (read from the request body once Chromium hands it out). */
  url?: string;
  referrer?: string;
  status?: number;
  allowOrigin?: string;
  failed?: string;
}

interface Visit {
  page: Page;
  sends: Send[];
}

/** A client site: its own HTTP server on its own port (origin), registered in Siteline. */
interface ClientSite {
  origin: string;
  site: CreatedSite;
}

/**
 * A slow network path between the visitor and Siteline: a TCP relay that holds every chunk the
 * browser sends for `delayMs` before passing it on. A request the browser abandons in that time
 * (it closes the connection, as it does for a page's ordinary fetch when the page goes away)
 * never reaches the app: its bytes are counted in `dropped` instead.
 */
class SlowLink {
  dropped = 0;
  private readonly sockets = new Set<Socket>();
  private server!: TcpServer;
  origin = '';

  static async start(target: URL, delayMs: number): Promise<SlowLink> {
    const link = new SlowLink();
    link.server = createTcpServer((client) => link.relay(client, target, delayMs));
    await new Promise<void>((resolve) => link.server.listen(0, '127.0.0.1', resolve));
    const address = link.server.address();
    link.origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return link;
  }

  private relay(client: Socket, target: URL, delayMs: number): void {
    const upstream = createConnection(Number(target.port), target.hostname);
    let open = true;
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    }
    client.on('close', () => {
      open = false;
      setTimeout(() => upstream.destroy(), delayMs + 100);
    });
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk) => {
      setTimeout(() => {
        if (open) upstream.write(chunk);
        else this.dropped++;
      }, delayMs);
    });
    upstream.on('data', (chunk) => {
      if (open) client.write(chunk);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `probe` until it returns a value; on timeout the error tells what was seen last. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 15_000, seen }: { timeoutMs?: number; seen?: () => Promise<unknown> } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; seen: ${seen ? JSON.stringify(await seen()) : 'nothing'}`);
    await sleep(50);
  }
}

const pathOf = (url: string | undefined) => {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  return parsed.pathname + parsed.search + parsed.hash;
};

describeIfChromium('tracker in a real browser', () => {
  let app: TestApp;
  let accessToken: string;
  let browser: Browser;
  /** A browser whose user turned on "Send a Do Not Track request" (Chromium's own setting). */
  let dntBrowser: Browser;
  let hitsUrl: string;
  const profileDirs: string[] = [];
  const servers: Server[] = [];
  const links: SlowLink[] = [];
  const openPages: Page[] = [];
  const problems: string[] = [];

  async function launch(preferences?: Record<string, unknown>, extraArgs: string[] = []): Promise<Browser> {
    const profileDir = mkdtempSync(join(tmpdir(), 'siteline-chromium-'));
    profileDirs.push(profileDir);
    if (preferences) {
      mkdirSync(join(profileDir, 'Default'));
      writeFileSync(join(profileDir, 'Default', 'Preferences'), JSON.stringify(preferences));
    }
    return launchChromium(profileDir, extraArgs);
  }

  /**
   * Starts a client site's web server, then registers the site in Siteline with that server's
   * origin as its allowed origin. Every path answers with the same page (an SPA's fallback
   * route), which embeds the tracker as the README says: `<script defer src=".../tracker.js"
   * data-site-id="SITE_ID">`.
   */
  async function startClientSite(
    options: { respectDoNotTrack?: boolean; trackerOrigin?: string; attributes?: string } = {},
  ): Promise<ClientSite> {
    let html = '';
    const server = createServer((request, response) => {
      if (request.url === '/favicon.ico') {
        response.writeHead(204).end();
        return;
      }
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const site = await createSite(app.url, accessToken, {
      allowedOrigins: [origin],
      respectDoNotTrack: options.respectDoNotTrack ?? true,
    });
    const tracker = `<script defer src="${options.trackerOrigin ?? app.url}/tracker.js" data-site-id="${site.id}"${options.attributes ?? ''}></script>`;
    html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Demo shop</title>
    ${tracker}
  </head>
  <body>
    <h1>Demo shop</h1>
    <a id="to-details" href="#details">Details</a>
    <section id="details" style="margin-top: 2000px">Details</section>
  </body>
</html>`;
    return { origin, site };
  }

  /** Opens `path` of a client site in a new tab, recording the tracker's sends to the app. */
  async function visit(
    client: ClientSite,
    path: string,
    options: { in?: Browser; referer?: string; ingest?: string; beforeLoad?: (page: Page) => Promise<void> } = {},
  ): Promise<Visit> {
    const page = await (options.in ?? browser).newPage();
    openPages.push(page);
    await page.setUserAgent(CHROME_UA);
    const sends: Send[] = [];
    const ingest = options.ingest ?? hitsUrl;
    page.on('request', (request) => {
      if (request.url() !== ingest || request.method() !== 'POST') return;
      const send: Send = { request };
      sends.push(send);
      // A beacon's body is a Blob: Chromium hands it out on request, not with the event.
      void request
        .fetchPostData()
        .then((data) => {
          const body = JSON.parse(data ?? '{}') as { url: string; referrer?: string };
          send.url = body.url;
          send.referrer = body.referrer;
        })
        .catch(() => undefined);
    });
    page.on('response', (response) => {
      const send = sends.find((candidate) => candidate.request === response.request());
      if (send) {
        send.status = response.status();
        send.allowOrigin = response.headers()['access-control-allow-origin'];
      }
    });
    page.on('requestfailed', (request) => {
      const send = sends.find((candidate) => candidate.request === request);
      if (send) send.failed = request.failure()?.errorText ?? 'failed';
    });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn')
        problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
    await options.beforeLoad?.(page);
    await page.goto(`${client.origin}${path}`, { waitUntil: 'load', referer: options.referer });
    return { page, sends };
  }

  /** Waits until the tab has made `count` sends and each was answered (hits are stored before the 202). */
  async function settle(visit: Visit, count: number): Promise<Send[]> {
    return until(
      `${count} answered sends`,
      async () =>
        visit.sends.length >= count &&
        visit.sends.every((send) => send.url !== undefined && (send.status !== undefined || send.failed))
          ? visit.sends
          : undefined,
      { seen: async () => visit.sends.map((send) => [send.url, send.status ?? send.failed]) },
    );
  }

  const hitsOf = (client: ClientSite): Promise<Document[]> =>
    app.database.db
      .collection('hits')
      .find({ siteId: new ObjectId(client.site.id) })
      .sort({ _id: 1 })
      .toArray();

  async function api<T>(path: string, query: Record<string, string>): Promise<T> {
    const url = new URL(`/api/v1${path}`, app.url);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const response = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  const pushState = (page: Page, url: string) =>
    page.evaluate((to: string) => window.history.pushState({}, '', to), url);

  beforeAll(async () => {
    app = await startTestApp({ env: bootstrapAdminEnv });
    hitsUrl = `${app.url}/api/v1/hits`;
    accessToken = (await loginAsBootstrapAdmin(app.url)).accessToken;
    browser = await launch();
    dntBrowser = await launch({ enable_do_not_track: true });
  }, 120_000);

  afterEach(async () => {
    for (const page of openPages.splice(0)) if (!page.isClosed()) await page.close();
  });

  afterAll(async () => {
    await browser?.close();
    await dntBrowser?.close();
    for (const dir of profileDirs) rmSync(dir, { recursive: true, force: true });
    for (const link of links) await link.close();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await app?.close();
  });

  it('stores the page view with the path, host and referrer of the page that embeds the tracker', async () => {
    const shop = await startClientSite();
    const tab = await visit(shop, '/pricing/?plan=pro', { referer: REFERRING_PAGE });
    expect(await tab.page.evaluate(() => [window.navigator.doNotTrack, document.referrer])).toEqual([
      null,
      'http://news.example.org/',
    ]);

    const [send] = await settle(tab, 1);
    expect(send).toMatchObject({ url: `${shop.origin}/pricing/?plan=pro`, referrer: 'http://news.example.org/' });
    // A beacon (its answer is opaque to the page), from the client site's origin, answered 202.
    expect(send.request.resourceType()).toBe('ping');
    expect(send.request.headers()).toMatchObject({ origin: shop.origin, 'content-type': 'text/plain' });
    expect(send.status).toBe(202);
    const hits = await hitsOf(shop);
    expect(hits).toEqual([
      expect.objectContaining({
        name: 'pageview',
        host: '127.0.0.1',
        path: '/pricing',
        referrer: 'http://news.example.org/',
        referrerHost: 'news.example.org',
        source: 'news.example.org',
        classification: 'USER',
        browser: 'Chrome',
      }),
    ]);

    // The stats API counts the visit as the dashboard shows it.
    const scope = { siteId: shop.site.id, period: 'day', metrics: 'pageviews' };
    const pages = await api<{ results: Array<Record<string, unknown>> }>('/stats/breakdown', {
      ...scope,
      dimension: 'page',
    });
    expect(pages.results).toEqual([expect.objectContaining({ label: '/pricing', pageviews: 1 })]);
    const sources = await api<{ results: Array<Record<string, unknown>> }>('/stats/breakdown', {
      ...scope,
      dimension: 'source',
    });
    expect(sources.results).toEqual([expect.objectContaining({ label: 'news.example.org', pageviews: 1 })]);
  });

  it('counts a history.pushState route change as a page view of the new path, without the referrer', async () => {
    const shop = await startClientSite();
    const tab = await visit(shop, '/', { referer: REFERRING_PAGE });
    await settle(tab, 1);
    await pushState(tab.page, '/checkout?step=2');
    await settle(tab, 2);
    // Pushing the URL the tab already shows is no new page view.
    await pushState(tab.page, '/checkout?step=2');
    await pushState(tab.page, '/checkout/done');
    const sends = await settle(tab, 3);

    expect(sends.map((send) => [pathOf(send.url), send.referrer, send.status])).toEqual([
      ['/', 'http://news.example.org/', 202],
      ['/checkout?step=2', undefined, 202],
      ['/checkout/done', undefined, 202],
    ]);
    const hits = await hitsOf(shop);
    expect(hits.map((hit) => [hit.host, hit.path, hit.referrer])).toEqual([
      ['127.0.0.1', '/', 'http://news.example.org/'],
      ['127.0.0.1', '/checkout', null],
      ['127.0.0.1', '/checkout/done', null],
    ]);
    // One visitor: the route changes are counted for the same (cookieless) visitor as the landing.
    expect(new Set(hits.map((hit) => hit.visitorKey as string)).size).toBe(1);
  });

  it('counts the back and forward buttons (popstate) as page views', async () => {
    const shop = await startClientSite();
    const tab = await visit(shop, '/');
    await settle(tab, 1);
    await pushState(tab.page, '/products');
    await settle(tab, 2);
    await tab.page.goBack();
    expect(await tab.page.evaluate(() => window.location.href)).toBe(`${shop.origin}/`);
    await settle(tab, 3);
    await tab.page.goForward();
    const sends = await settle(tab, 4);

    expect(sends.map((send) => pathOf(send.url))).toEqual(['/', '/products', '/', '/products']);
    expect((await hitsOf(shop)).map((hit) => hit.path)).toEqual(['/', '/products', '/', '/products']);
  });

  it('counts no page view for history.replaceState or in-page anchors (#fragment), back from one included', async () => {
    const shop = await startClientSite();
    const tab = await visit(shop, '/');
    await settle(tab, 1);
    // A router or a filter rewriting the current entry: still the same page view.
    await tab.page.evaluate(() => window.history.replaceState({}, '', '/?sort=price'));
    // An in-page link, then the back button to the top of the page: no page views either.
    await tab.page.click('#to-details');
    expect(await tab.page.evaluate(() => window.location.hash)).toBe('#details');
    await tab.page.goBack();
    expect(await tab.page.evaluate(() => window.location.href)).toBe(`${shop.origin}/?sort=price`);
    // A real route change afterwards is counted: anything sent before it was seen by then.
    await pushState(tab.page, '/next');
    await until('the /next send', async () => tab.sends.find((send) => pathOf(send.url) === '/next'), {
      seen: async () => tab.sends.map((send) => send.url),
    });
    const sends = await settle(tab, 2);

    expect(sends.map((send) => pathOf(send.url))).toEqual(['/', '/next']);
    expect((await hitsOf(shop)).map((hit) => hit.path)).toEqual(['/', '/next']);
  });

  it('sets no cookie and stores nothing in the browser, on the site or on Siteline', async () => {
    const shop = await startClientSite();
    const tab = await visit(shop, '/', { referer: REFERRING_PAGE });
    await settle(tab, 1);
    await pushState(tab.page, '/cart');
    await settle(tab, 2);

    expect(await tab.page.evaluate(() => document.cookie)).toBe('');
    expect(await tab.page.evaluate(() => [window.localStorage.length, window.sessionStorage.length])).toEqual([0, 0]);
    // Every cookie of the browser, for any origin: one set by an answer of the app (even to a
    // beacon, whose answer the page cannot read) would be here.
    expect(await browser.cookies()).toEqual([]);
    expect(tab.sends.map((send) => send.request.headers().cookie)).toEqual([undefined, undefined]);
    expect(await hitsOf(shop)).toHaveLength(2);
  });

  describe('Do-Not-Track', () => {
    it('a site with respectDoNotTrack stores nothing for a DNT browser; the send is acknowledged', async () => {
      const shop = await startClientSite({ respectDoNotTrack: true });
      const tab = await visit(shop, '/', { in: dntBrowser });
      expect(await tab.page.evaluate(() => window.navigator.doNotTrack)).toBe('1');
      await settle(tab, 1);
      await pushState(tab.page, '/pricing');
      const sends = await settle(tab, 2);

      // The default embed sends; the server sees the browser's `DNT: 1` header and drops the hit.
      expect(sends.map((send) => [pathOf(send.url), send.request.headers().dnt, send.status])).toEqual([
        ['/', '1', 202],
        ['/pricing', '1', 202],
      ]);
      expect(await hitsOf(shop)).toEqual([]);
    });

    it('a site without respectDoNotTrack still stores the DNT browser’s page views', async () => {
      const shop = await startClientSite({ respectDoNotTrack: false });
      const tab = await visit(shop, '/', { in: dntBrowser });
      expect(await tab.page.evaluate(() => window.navigator.doNotTrack)).toBe('1');
      const [send] = await settle(tab, 1);
      expect([send.request.headers().dnt, send.status]).toEqual(['1', 202]);
      expect((await hitsOf(shop)).map((hit) => hit.path)).toEqual(['/']);
    });

    it('with data-respect-dnt the tracker sends nothing from a DNT browser, and still sends from others', async () => {
      const shop = await startClientSite({ respectDoNotTrack: false, attributes: ' data-respect-dnt' });
      const silent = await visit(shop, '/', { in: dntBrowser });
      await pushState(silent.page, '/pricing');

      const counted = await visit(shop, '/');
      await settle(counted, 1);
      await pushState(counted.page, '/pricing');
      await settle(counted, 2);
      // By now the DNT tab's sends, had there been any, would long have been made.
      expect(silent.sends.map((send) => send.url ?? send.request.url())).toEqual([]);
      expect((await hitsOf(shop)).map((hit) => hit.path)).toEqual(['/', '/pricing']);
    });
  });

  describe('when the page goes away right after a route change', () => {
    let link: SlowLink;
    /**
     * A browser without a back/forward cache: leaving a page ends it, and with it any ordinary
     * request still in flight, as happens whenever a page is not kept in that cache (browsers
     * decide that themselves; Chromium keeps even a plain fetch of a cached page running).
     */
    let leavingBrowser: Browser;

    beforeAll(async () => {
      link = await SlowLink.start(new URL(app.url), SLOW_LINK_DELAY_MS);
      links.push(link);
      leavingBrowser = await launch(undefined, ['--disable-features=BackForwardCache']);
    });

    afterAll(async () => {
      await leavingBrowser?.close();
    });

    /** A site whose visitors reach Siteline over the slow link, embedding the tracker from there. */
    async function slowVisit(beforeLoad?: (page: Page) => Promise<void>) {
      const shop = await startClientSite({ trackerOrigin: link.origin });
      const tab = await visit(shop, '/', { in: leavingBrowser, ingest: `${link.origin}/api/v1/hits`, beforeLoad });
      await settle(tab, 1);
      return { shop, tab };
    }

    const storedPaths = async (shop: ClientSite) => (await hitsOf(shop)).map((hit) => hit.path as string);
    const delivered = (shop: ClientSite, paths: string[]) =>
      until(
        `the hits ${paths.join(', ')}`,
        async () => {
          const stored = await storedPaths(shop);
          return stored.length >= paths.length ? stored : undefined;
        },
        {
          timeoutMs: SLOW_LINK_DELAY_MS * 8,
          seen: async () => ({ stored: await storedPaths(shop), droppedByLink: link.dropped }),
        },
      );

    it.each([
      ['the tab is closed', (page: Page) => page.close()],
      ['the visitor navigates away', (page: Page) => page.goto('about:blank').then(() => undefined)],
    ])('still delivers the last page view (sendBeacon) when %s', async (_, leave) => {
      const dropsBefore = link.dropped;
      const { shop, tab } = await slowVisit();
      expect(tab.sends[0].request.resourceType()).toBe('ping');
      await pushState(tab.page, '/thank-you');
      await leave(tab.page);

      expect(await delivered(shop, ['/', '/thank-you'])).toEqual(['/', '/thank-you']);
      expect(link.dropped).toBe(dropsBefore);
    });

    it('falls back to fetch with keepalive where sendBeacon is missing, and that survives closing too', async () => {
      const dropsBefore = link.dropped;
      const { shop, tab } = await slowVisit((page) =>
        page
          .evaluateOnNewDocument(() => {
            Object.defineProperty(window.Navigator.prototype, 'sendBeacon', { value: undefined });
          })
          .then(() => undefined),
      );
      expect(tab.sends[0]).toMatchObject({ status: 202, allowOrigin: shop.origin });
      expect(tab.sends[0].request.resourceType()).toBe('fetch');
      await pushState(tab.page, '/thank-you');
      await tab.page.close();

      expect(await delivered(shop, ['/', '/thank-you'])).toEqual(['/', '/thank-you']);
      expect(link.dropped).toBe(dropsBefore);
      expect(await leavingBrowser.cookies()).toEqual([]);
    });
  });

  it('made no console errors or page errors on the client sites, and left no cookie in either browser', async () => {
    expect(problems).toEqual([]);
    expect(await browser.cookies()).toEqual([]);
    expect(await dntBrowser.cookies()).toEqual([]);
  });
});
