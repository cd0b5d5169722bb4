import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ObjectId, type Document } from 'mongodb';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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
/** Where measurements of the run are written (as the dashboard test writes its screenshots). */
const OUTPUT_DIR = join(process.cwd(), 'test-output');
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
  /** The request body, read once Chromium hands it out. */
  body?: SentHit;
  /** The page URL the tracker reported. */
  url?: string;
  referrer?: string;
  status?: number;
  allowOrigin?: string;
  failed?: string;
}

/** What the tracker posts: a page view, a custom event or an engagement hit. */
interface SentHit {
  siteId: string;
  url: string;
  referrer?: string;
  name?: string;
  props?: Record<string, unknown>;
  revenue?: { currency: string; amount: number };
  hashMode?: boolean;
  engagementMs?: number;
  scrollDepth?: number;
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
    options: {
      respectDoNotTrack?: boolean;
      trackerOrigin?: string;
      attributes?: string;
      /** Markup before the tracker's script element, e.g. the queue snippet. */
      head?: string;
      /** Markup after the page's heading. */
      body?: string;
    } = {},
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
    ${options.head ?? ''}
    ${tracker}
  </head>
  <body>
    <h1>Demo shop</h1>
    ${options.body ?? ''}
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
          const body = JSON.parse(data ?? '{}') as SentHit;
          send.body = body;
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

  const isEngagement = (send: Send) => send.body?.name === 'engagement';

  /**
   * Waits until the tab has made `count` page-view or event sends and every send so far was
   * answered (hits are stored before the 202); returns those sends. Engagement sends, which the
   * tracker makes on its own whenever a page is left, are waited for but not counted here.
   */
  async function settle(visit: Visit, count: number): Promise<Send[]> {
    return until(
      `${count} answered sends`,
      async () => {
        const answered = visit.sends.every(
          (send) => send.body !== undefined && (send.status !== undefined || send.failed),
        );
        const counted = visit.sends.filter((send) => !isEngagement(send));
        return answered && counted.length >= count ? counted : undefined;
      },
      { seen: async () => visit.sends.map((send) => [send.body?.name, send.url, send.status ?? send.failed]) },
    );
  }

  /** The page views and events stored for the site, oldest first (engagement hits apart). */
  const hitsOf = (client: ClientSite): Promise<Document[]> =>
    app.database.db
      .collection('hits')
      .find({ siteId: new ObjectId(client.site.id), name: { $ne: 'engagement' } })
      .sort({ _id: 1 })
      .toArray();

  /** The stored events other than page views, as `[name, props]` sorted by both (beacons race). */
  const eventsOf = async (client: ClientSite): Promise<Array<[string, unknown]>> =>
    (await hitsOf(client))
      .filter((hit) => hit.name !== 'pageview')
      .map((hit): [string, unknown] => [hit.name as string, hit.props])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

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

  it('serves a script under 2.5 kB gzipped, with no cookie (its sizes go to test-output/tracker-size.json)', async () => {
    const response = await fetch(`${app.url}/tracker.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBeNull();
    const script = Buffer.from(await response.arrayBuffer());
    const sizes = { bytes: script.length, gzipBytes: gzipSync(script, { level: 9 }).length };
    mkdirSync(OUTPUT_DIR, { recursive: true });
    writeFileSync(join(OUTPUT_DIR, 'tracker-size.json'), `${JSON.stringify(sizes)}\n`);
    expect(sizes.gzipBytes).toBeLessThan(2500);
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
      // Route changes have no referrer: the hits store none.
      ['127.0.0.1', '/checkout', undefined],
      ['127.0.0.1', '/checkout/done', undefined],
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
    // Every feature of the tracker at work: page views, an event of the JS API, a tagged element,
    // a download, the 404 event, and the engagement hit of the page the route change left.
    const shop = await startClientSite({
      attributes: ' data-outbound-links data-file-downloads data-404',
      body: `<button id="tagged" data-siteline-event="Add to cart" data-siteline-prop-sku="A-1">Add</button>
        <a id="manual" href="/files/manual.pdf" onclick="event.preventDefault()">Manual</a>`,
    });
    const tab = await visit(shop, '/', { referer: REFERRING_PAGE });
    await settle(tab, 2);
    await pushState(tab.page, '/cart');
    await tab.page.click('#tagged');
    await tab.page.click('#manual');
    await tab.page.evaluate("siteline('Checkout', { props: { step: 1 } })");
    await settle(tab, 6);

    expect(await tab.page.evaluate(() => document.cookie)).toBe('');
    expect(await tab.page.evaluate(() => [window.localStorage.length, window.sessionStorage.length])).toEqual([0, 0]);
    expect(
      await tab.page.evaluate(
        'Promise.all([indexedDB.databases(), caches.keys()]).then(([dbs, caches]) => [dbs.length, caches.length])',
      ),
    ).toEqual([0, 0]);
    // Every cookie of the browser, for any origin: one set by an answer of the app (even to a
    // beacon, whose answer the page cannot read) would be here.
    expect(await browser.cookies()).toEqual([]);
    expect(tab.sends.map((send) => send.request.headers().cookie).filter(Boolean)).toEqual([]);
    expect(await hitsOf(shop)).toHaveLength(6);
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

  describe('events', () => {
    /** The loader snippet of docs/tracker.md: calls made before the tracker ran wait in `siteline.q`. */
    const QUEUE_SNIPPET =
      '<script>window.siteline = window.siteline || function () { (siteline.q = siteline.q || []).push(arguments) };</script>';
    /** Keeps the tab on the page when a link is clicked, so that the test can go on clicking. */
    const STAY_ON_PAGE =
      "<script>for (const type of ['click', 'auxclick']) window.addEventListener(type, (e) => { if (e.target.closest('a.stay')) e.preventDefault(); });</script>";

    it('sends custom events with props from the JS API, the calls queued before the script loaded included', async () => {
      const shop = await startClientSite({
        head: `${QUEUE_SNIPPET}<script>siteline('Signup', { props: { plan: 'pro', seats: 3 } });</script>`,
      });
      const tab = await visit(shop, '/pricing');
      await settle(tab, 2);
      await tab.page.evaluate(
        "new Promise((resolve) => siteline('Download', { props: { format: 'pdf', beta: true }, callback: resolve }))",
      );
      const sends = await settle(tab, 3);

      // The page view goes first: the queued event belongs to the visit it starts.
      expect(sends.map((send) => [send.body?.name, pathOf(send.url), send.status])).toEqual([
        [undefined, '/pricing', 202],
        ['Signup', '/pricing', 202],
        ['Download', '/pricing', 202],
      ]);
      expect(await eventsOf(shop)).toEqual([
        ['Download', { format: 'pdf', beta: true }],
        ['Signup', { plan: 'pro', seats: 3 }],
      ]);
      const events = await api<{ results: Array<Record<string, unknown>> }>('/stats/breakdown', {
        siteId: shop.site.id,
        period: 'day',
        metrics: 'visitors,events',
        dimension: 'event_name',
      });
      expect(events.results).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ value: 'Signup', visitors: 1, events: 1 }),
          expect.objectContaining({ value: 'Download', visitors: 1, events: 1 }),
        ]),
      );
    });

    it('tracks outbound links and file downloads when asked to, with Plausible’s event names', async () => {
      const partner = await startClientSite();
      const shop = await startClientSite({
        attributes: ' data-outbound-links data-file-downloads data-add-file-types="epub"',
        head: STAY_ON_PAGE,
        body: `<a class="stay" id="pdf" href="/files/report.pdf?v=2"><span id="pdf-label">Report</span></a>
          <a class="stay" id="epub" href="/files/Book.EPUB">Book</a>
          <a class="stay" id="html" href="/files/notes.html">Notes</a>
          <a class="stay" id="inside" href="/about">About</a>
          <a id="out" href="${partner.origin}/welcome?from=shop">Partner</a>`,
      });
      const tab = await visit(shop, '/');
      await settle(tab, 1);
      await tab.page.click('#pdf-label');
      await tab.page.click('#pdf', { button: 'middle' });
      await tab.page.click('#epub');
      await tab.page.click('#html');
      await tab.page.click('#inside');
      await settle(tab, 4);
      // Leaving the page by an outbound link: the beacon outlives the page.
      await Promise.all([tab.page.waitForNavigation(), tab.page.click('#out')]);
      expect(tab.page.url()).toBe(`${partner.origin}/welcome?from=shop`);

      expect(
        await until('the outbound-link event', async () => {
          const events = await eventsOf(shop);
          return events.length >= 4 ? events : undefined;
        }),
      ).toEqual([
        ['File Download', { url: `${shop.origin}/files/Book.EPUB` }],
        ['File Download', { url: `${shop.origin}/files/report.pdf` }],
        ['File Download', { url: `${shop.origin}/files/report.pdf` }],
        ['Outbound Link: Click', { url: `${partner.origin}/welcome?from=shop` }],
      ]);
    });

    it('sends no outbound-link or download events by default', async () => {
      const shop = await startClientSite({
        head: STAY_ON_PAGE,
        body: `<a class="stay" id="pdf" href="/files/report.pdf">Report</a>
          <a class="stay" id="out" href="${app.url}/tracker.js">Partner</a>`,
      });
      const tab = await visit(shop, '/');
      await settle(tab, 1);
      await tab.page.click('#pdf');
      await tab.page.click('#out');
      // A marker sent after the clicks: anything the clicks sent was sent before it.
      await tab.page.evaluate("siteline('Marker')");
      await settle(tab, 2);

      expect(tab.sends.filter((send) => !isEngagement(send)).map((send) => send.body?.name)).toEqual([
        undefined,
        'Marker',
      ]);
      expect(await eventsOf(shop)).toEqual([['Marker', undefined]]);
    });

    it('with data-404 sends a "404" event with the path after the page view', async () => {
      const shop = await startClientSite({ attributes: ' data-404' });
      const tab = await visit(shop, '/no/such/page?q=1');
      const sends = await settle(tab, 2);

      expect(sends.map((send) => send.body?.name)).toEqual([undefined, '404']);
      expect(await eventsOf(shop)).toEqual([['404', { path: '/no/such/page' }]]);
    });

    it('sends the events tagged on elements by class or data attribute, forms on submission', async () => {
      const shop = await startClientSite({
        head: STAY_ON_PAGE,
        body: `<button id="signup" class="cta siteline-event-name=Signup siteline-event-plan=pro siteline-event-placement=hero+banner"><span id="signup-label">Sign up</span></button>
          <div data-siteline-event="Newsletter" data-siteline-prop-list="weekly"><p><em id="newsletter-deep">Join</em></p></div>
          <a class="stay siteline-event-name--Pricing+Click" id="pricing" href="/pricing">Pricing</a>
          <form class="siteline-event-name=Contact" onsubmit="event.preventDefault()">
            <input name="email" value="a@example.org"><button id="send" class="siteline-event-name=Ignored">Send</button>
          </form>
          <div class="siteline-event-name=TooFar"><div><div><div><span id="too-far">Far</span></div></div></div></div>
          <button id="untagged">Nothing</button>`,
      });
      const tab = await visit(shop, '/');
      await settle(tab, 1);
      for (const id of ['signup-label', 'newsletter-deep', 'pricing', 'send', 'too-far', 'untagged'])
        await tab.page.click(`#${id}`);
      await tab.page.evaluate("siteline('Marker')");
      await settle(tab, 6);

      expect(await eventsOf(shop)).toEqual([
        // No props: the server stores an empty object as none.
        ['Contact', undefined],
        ['Marker', undefined],
        ['Newsletter', { list: 'weekly' }],
        ['Pricing Click', { url: `${shop.origin}/pricing` }],
        ['Signup', { plan: 'pro', placement: 'hero banner' }],
      ]);
    });
  });

  describe('revenue, hash mode and engagement', () => {
    /** The engagement records stored for the site, oldest first. */
    const engagementsOf = (client: ClientSite): Promise<Document[]> =>
      app.database.db
        .collection('engagements')
        .find({ siteId: new ObjectId(client.site.id) })
        .sort({ _id: 1 })
        .toArray();
    const engagementSends = (tab: Visit) => tab.sends.filter(isEngagement).map((send) => send.body!);
    /** A page taller than the window: 3,000 px of article under the heading. */
    const LONG_ARTICLE = '<article style="height: 3000px">Text</article>';

    it('sends the revenue of an event, from the JS API and from a tagged element', async () => {
      const shop = await startClientSite({
        body: `<button id="buy" class="siteline-event-name=Purchase siteline-event-plan=team siteline-revenue-amount=99.5 siteline-revenue-currency=usd">Buy</button>`,
      });
      const tab = await visit(shop, '/checkout');
      await settle(tab, 1);
      await tab.page.evaluate(
        "siteline('Purchase', { props: { plan: 'pro' }, revenue: { currency: 'EUR', amount: 29 } })",
      );
      await tab.page.click('#buy');
      await settle(tab, 3);

      const purchases = (await hitsOf(shop))
        .filter((hit) => hit.name === 'Purchase')
        .map((hit) => [hit.props, hit.revenueAmount, hit.revenueCurrency])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      expect(purchases).toEqual([
        [{ plan: 'pro' }, 29, 'EUR'],
        [{ plan: 'team' }, 99.5, 'USD'],
      ]);
    });

    it('with data-hash-mode counts each hash route as a page view and keeps the fragment', async () => {
      const shop = await startClientSite({ attributes: ' data-hash-mode' });
      const tab = await visit(shop, '/app#/inbox');
      await settle(tab, 1);
      await tab.page.evaluate(() => {
        window.location.hash = '#/settings';
      });
      await settle(tab, 2);
      // A hash router's links: the URL changes by the fragment alone.
      await tab.page.evaluate(() => {
        window.location.hash = '#/settings/profile';
      });
      const sends = await settle(tab, 3);

      expect(sends.map((send) => [pathOf(send.url), send.body?.hashMode])).toEqual([
        ['/app#/inbox', true],
        ['/app#/settings', true],
        ['/app#/settings/profile', true],
      ]);
      expect((await hitsOf(shop)).map((hit) => hit.path)).toEqual([
        '/app#/inbox',
        '/app#/settings',
        '/app#/settings/profile',
      ]);
    });

    it('sends the time the page was visible and in focus, and the deepest scroll, when it is hidden and when it is left', async () => {
      const shop = await startClientSite({ body: LONG_ARTICLE });
      const opened = Date.now();
      const tab = await visit(shop, '/article');
      await settle(tab, 1);
      const { height, viewport } = (await tab.page.evaluate(
        '({ height: document.documentElement.scrollHeight, viewport: window.innerHeight })',
      )) as { height: number; viewport: number };
      expect(height).toBeGreaterThan(3000);
      await tab.page.evaluate('window.scrollTo(0, 1500)');
      await sleep(300);
      await tab.page.evaluate('window.scrollTo(0, 200)');
      await sleep(700);

      // Another tab in front: this one is hidden (and loses focus); its engagement goes out.
      const other = await browser.newPage();
      openPages.push(other);
      await until('the first engagement send', async () => (engagementSends(tab).length >= 1 ? true : undefined));
      const hiddenAt = Date.now();
      // Time while hidden is not engaged time.
      await sleep(2000);
      const showing = Date.now();
      await tab.page.bringToFront();
      await sleep(3300);
      // Leaving the page sends the rest.
      await tab.page.goto('about:blank');
      const leftAt = Date.now();
      const stored = await until('two stored engagements', async () => {
        const found = await engagementsOf(shop);
        return found.length >= 2 ? found : undefined;
      });

      const deepest = Math.round(((1500 + viewport) * 100) / height);
      // What the browser sent on hiding (the beacon of a page being left cannot be read back).
      const [sent] = engagementSends(tab);
      expect(sent).toMatchObject({ url: `${shop.origin}/article`, scrollDepth: deepest });
      const [first, second] = stored.map((record) => ({
        path: record.path as string,
        engagementMs: record.engagementMs as number,
        scrollDepth: record.scrollDepth as number,
      }));
      expect(first).toEqual({ path: '/article', engagementMs: sent.engagementMs, scrollDepth: deepest });
      // At least the second the test waited on the page; at most the time from opening to hiding.
      expect(first.engagementMs).toBeGreaterThanOrEqual(1000);
      expect(first.engagementMs).toBeLessThanOrEqual(hiddenAt - opened);
      expect(second).toMatchObject({ path: '/article', scrollDepth: deepest });
      // The 3.3 s in front again, not the 2 s hidden before.
      expect(second.engagementMs).toBeGreaterThanOrEqual(3300);
      expect(second.engagementMs).toBeLessThanOrEqual(leftAt - showing);
      // Engagement is no page view and no event.
      expect((await hitsOf(shop)).map((hit) => [hit.name, hit.path])).toEqual([['pageview', '/article']]);
    });

    it('sends the engagement of the previous page on SPA navigation, and nothing with data-no-engagement', async () => {
      const shop = await startClientSite();
      const tab = await visit(shop, '/first');
      await settle(tab, 1);
      await sleep(500);
      await pushState(tab.page, '/second');
      await settle(tab, 2);
      await until('the engagement of /first', async () => (engagementSends(tab).length >= 1 ? true : undefined));
      const [engagement] = engagementSends(tab);
      // The page (heading, link, 2,000 px margin, details) is taller than the window: not scrolled.
      const { height, viewport } = (await tab.page.evaluate(
        '({ height: document.documentElement.scrollHeight, viewport: window.innerHeight })',
      )) as { height: number; viewport: number };
      expect(engagement).toMatchObject({
        name: 'engagement',
        url: `${shop.origin}/first`,
        scrollDepth: Math.round((viewport * 100) / height),
      });
      expect(engagement.engagementMs).toBeGreaterThanOrEqual(500);
      // Sent before the page view of the new route.
      expect(tab.sends.map((send) => [send.body?.name, pathOf(send.url)])).toEqual([
        [undefined, '/first'],
        ['engagement', '/first'],
        [undefined, '/second'],
      ]);

      const quiet = await startClientSite({ attributes: ' data-no-engagement' });
      const quietTab = await visit(quiet, '/first');
      await settle(quietTab, 1);
      await pushState(quietTab.page, '/second');
      await quietTab.page.evaluate("siteline('Marker')");
      await settle(quietTab, 3);
      expect(engagementSends(quietTab)).toEqual([]);
    });
  });

  it('made no console errors or page errors on the client sites, and left no cookie in either browser', async () => {
    expect(problems).toEqual([]);
    expect(await browser.cookies()).toEqual([]);
    expect(await dntBrowser.cookies()).toEqual([]);
  });
});
