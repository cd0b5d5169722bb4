import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'puppeteer-core';
import { REVERSE_DNS_RESOLVER, ReverseDnsService } from '../../src/geo/reverse-dns.service.js';
import { createKey, createSite, type CreatedSite } from '../factories/sites.js';
import { BOOTSTRAP_ADMIN, bootstrapAdminEnv, loginAsBootstrapAdmin } from '../factories/users.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const hasChromium = chromiumAvailable('dashboard browser test');
const describeIfChromium = hasChromium ? describe : describe.skip;

// A real browser on a busy CI machine: give each step room beyond Jest's 30 s default.
jest.setTimeout(90_000);

const SCREENSHOT_DIR = join(process.cwd(), 'test-output');
const TIMEZONE = 'Europe/Berlin';
const UA = {
  chrome:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  /** Not in isbot's list: classified BOT by Siteline's own headless heuristic (reason `headless`). */
  puppeteer:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Puppeteer/22',
};

/** PTR names for some of the sample IPs (the others have none), so the network-domain table has rows. */
const PTR_NAMES: Record<string, string[]> = {
  '81.2.69.142': ['host-81-2-69-142.as13213.net'],
  '8.8.8.8': ['dns.google'],
  '66.249.66.1': ['crawl-66-249-66-1.googlebot.com'],
};
async function fakeReverseDns(ip: string): Promise<string[]> {
  const names = PTR_NAMES[ip];
  if (names) return names;
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
}

const TRAFFIC = { metrics: ['visitors', 'pageviews'], heads: ['Visitors', 'Pageviews'] };
const VISITS = { metrics: ['visitors', 'visits'], heads: ['Visitors', 'Visits'] };
const EVENTS = { metrics: ['visitors', 'events'], heads: ['Visitors', 'Events'] };
const ENGAGEMENT = {
  metrics: ['visitors', 'time_on_page', 'scroll_depth'],
  heads: ['Visitors', 'Time on page', 'Scroll depth'],
};

interface Table {
  id: string;
  dimension: string;
  column: string;
  metrics: string[];
  heads: string[];
  classification?: string;
  filters?: unknown[];
  /** Seeded with human traffic only: with bots alone it may be empty or have a single row. */
  humanOnly?: boolean;
  /** The row of hits without a value is left out (the dashboard asks for one more row). */
  valuesOnly?: boolean;
  /** Conversions per goal, from POST /stats/query with the `goal` dimension rather than a breakdown. */
  goals?: boolean;
}

/**
 * The tables under the chart, as the dashboard is meant to show them (see breakdowns.js): each is
 * one dimension of GET /stats/breakdown, limit 10, with the dashboard's classification unless
 * the table fixes its own. The UTM table starts on utm_source; the properties table shows a
 * property once one is named (`prop:<key>`, see `tablesShown`).
 */
const TABLES: readonly Table[] = [
  { id: 'pages', dimension: 'page', column: 'Page', ...TRAFFIC },
  { id: 'entry-pages', dimension: 'entry_page', column: 'Entry page', ...VISITS, humanOnly: true },
  { id: 'exit-pages', dimension: 'exit_page', column: 'Exit page', ...VISITS, humanOnly: true },
  { id: 'engagement', dimension: 'page', column: 'Page', ...ENGAGEMENT, humanOnly: true },
  { id: 'sources', dimension: 'source', column: 'Source', ...TRAFFIC },
  { id: 'referrers', dimension: 'referrer', column: 'Referrer', ...TRAFFIC },
  { id: 'utm', dimension: 'utm_source', column: 'Value', ...VISITS, humanOnly: true, valuesOnly: true },
  {
    id: 'events',
    dimension: 'event_name',
    column: 'Event',
    ...EVENTS,
    filters: [['is_not', 'event_name', ['pageview', 'engagement']]],
    humanOnly: true,
  },
  {
    id: 'goals',
    dimension: 'goal',
    column: 'Goal',
    metrics: ['visitors', 'events', 'conversionRate'],
    heads: ['Uniques', 'Total', 'CR'],
    humanOnly: true,
    goals: true,
  },
  { id: 'properties', dimension: '', column: 'Value', ...EVENTS, humanOnly: true, valuesOnly: true },
  { id: 'countries', dimension: 'country', column: 'Country', ...TRAFFIC },
  { id: 'cities', dimension: 'city', column: 'City', ...TRAFFIC },
  { id: 'browsers', dimension: 'browser', column: 'Browser', ...TRAFFIC },
  { id: 'os', dimension: 'os', column: 'Operating system', ...TRAFFIC },
  { id: 'devices', dimension: 'device', column: 'Device', ...TRAFFIC },
  { id: 'network-domains', dimension: 'network_domain', column: 'Network domain', ...TRAFFIC },
  { id: 'bot-reasons', dimension: 'bot_reason', column: 'Reason', ...TRAFFIC, classification: 'BOT' },
];
/** A number of the API as the dashboard shows it: durations in whole seconds, percents to 0.1. */
function asShown(metric: string, value: number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (metric === 'time_on_page') return Math.round(value);
  if (metric === 'scroll_depth') return Math.round(value * 10) / 10;
  return value;
}
const TABLE_LIMIT = 10;

/**
 * What the callbacks run inside the page use of the DOM. The project compiles without the DOM
 * library (it is a server), so the page is described here, for this file only.
 */
interface PageElement {
  textContent: string | null;
  hidden: boolean;
  value: string;
  getAttribute(name: string): string | null;
  blur(): void;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number };
};
declare const sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const window: {
  innerWidth: number;
  Chart: { getChart(canvas: PageElement): { data: { datasets: Array<{ data: number[] }> } } };
};

type Query = Record<string, string | number>;
interface MetricValue {
  value: number;
  previous: number;
  change: number | null;
}

const CRAWL_HITS = 1200;
/** The most hits one request to POST /hits may carry. */
const HITS_PER_REQUEST = 500;

/**
 * Hits over the last two days from a few visitors in different countries, plus two bots. Every
 * table, for humans, bots and all traffic alike, gets at least two rows with different numbers
 * (checked in `expectTablesToMatchApi`), so rows or columns mixed up would show.
 */
function sampleTraffic(now: number, domain: string) {
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  const url = (path: string) => `https://${domain}${path}`;
  return [
    {
      url: url('/?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=boots&utm_content=sidebar'),
      ip: '81.2.69.142',
      userAgent: UA.chrome,
      referrer: 'https://www.google.com/search?q=x',
      timestamp: at(2),
    },
    { url: url('/pricing'), ip: '81.2.69.142', userAgent: UA.chrome, timestamp: at(1) },
    // Custom events with properties: "Signup" by three visitors (four times), "Download" by two;
    // plan "pro" by two visitors, "free" by one (twice).
    ...[
      { name: 'Signup', props: { plan: 'pro', seats: 2 }, ip: '81.2.69.142', userAgent: UA.chrome, minutesAgo: 0.8 },
      { name: 'Download', props: { format: 'pdf' }, ip: '81.2.69.142', userAgent: UA.chrome, minutesAgo: 0.6 },
      { name: 'Signup', props: { plan: 'free' }, ip: '8.8.8.8', userAgent: UA.firefox, minutesAgo: 114 },
      { name: 'Signup', props: { plan: 'free' }, ip: '8.8.8.8', userAgent: UA.firefox, minutesAgo: 113 },
      { name: 'Download', props: { format: 'epub' }, ip: '2.16.9.1', userAgent: UA.iphone, minutesAgo: 26 * 60 - 1 },
      { name: 'Signup', props: { plan: 'pro' }, ip: '2.16.9.1', userAgent: UA.iphone, minutesAgo: 26 * 60 - 2 },
    ].map(({ minutesAgo, ...event }) => ({ url: url('/pricing'), timestamp: at(minutesAgo), ...event })),
    // Engagement records (time on page and scroll depth of the pages the people above left).
    ...[
      { path: '/', engagementMs: 40_000, scrollDepth: 60, ip: '81.2.69.142', userAgent: UA.chrome, minutesAgo: 1.9 },
      {
        path: '/pricing',
        engagementMs: 90_000,
        scrollDepth: 100,
        ip: '81.2.69.142',
        userAgent: UA.chrome,
        minutesAgo: 0.5,
      },
      { path: '/', engagementMs: 20_000, scrollDepth: 30, ip: '8.8.8.8', userAgent: UA.firefox, minutesAgo: 119 },
      { path: '/about', engagementMs: 5_000, scrollDepth: 50, ip: '8.8.8.8', userAgent: UA.firefox, minutesAgo: 117 },
      {
        path: '/pricing',
        engagementMs: 12_000,
        scrollDepth: 80,
        ip: '8.8.8.8',
        userAgent: UA.firefox,
        minutesAgo: 112,
      },
      {
        path: '/',
        engagementMs: 7_000,
        scrollDepth: 100,
        ip: '2.16.9.1',
        userAgent: UA.iphone,
        minutesAgo: 26 * 60 - 0.5,
      },
    ].map(({ path, minutesAgo, ...engagement }) => ({
      name: 'engagement',
      url: url(path),
      timestamp: at(minutesAgo),
      ...engagement,
    })),
    {
      url: url('/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=header'),
      ip: '8.8.8.8',
      userAgent: UA.firefox,
      referrer: 'https://news.ycombinator.com/',
      timestamp: at(120),
    },
    { url: url('/about'), ip: '8.8.8.8', userAgent: UA.firefox, timestamp: at(118) },
    { url: url('/pricing'), ip: '8.8.8.8', userAgent: UA.firefox, timestamp: at(115) },
    { url: url('/'), ip: '2.16.9.1', userAgent: UA.iphone, timestamp: at(26 * 60) },
    {
      url: url(
        '/blog/launch?utm_source=newsletter&utm_medium=email&utm_campaign=launch&utm_term=shoes&utm_content=header',
      ),
      ip: '151.101.1.69',
      userAgent: UA.iphone,
      referrer: 'https://twitter.com/',
      timestamp: at(30 * 60),
    },
    { url: url('/'), ip: '66.249.66.1', userAgent: UA.googlebot, timestamp: at(60) },
    { url: url('/about'), ip: '66.249.66.1', userAgent: UA.googlebot, timestamp: at(59) },
    { url: url('/about'), ip: '66.249.66.1', userAgent: UA.googlebot, timestamp: at(58) },
    // The crawler then re-fetches one page every second for 20 minutes: 1,200 more pageviews, so
    // the bot and all-traffic tables show numbers with a thousands separator.
    ...Array.from({ length: CRAWL_HITS }, (_, i) => ({
      url: url('/about'),
      ip: '66.249.66.1',
      userAgent: UA.googlebot,
      timestamp: at(57 - i / 60),
    })),
    {
      url: url('/about'),
      ip: '81.2.69.142',
      userAgent: UA.puppeteer,
      referrer: 'https://duckduckgo.com/',
      timestamp: at(90),
    },
  ];
}

function dateIn(timezone: string, offsetDays: number): string {
  const day = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date());
  return new Date(Date.parse(day) + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Reads a number as the dashboard shows it: `1,234`, `45.5%`, `2.5`, `3m 07s`, `1h 02m`, `–`. */
function parseShown(text: string): number | null {
  const shown = text.trim();
  if (shown === '–' || shown === '') return null;
  const duration = /^(?:(\d+)h )?(?:(\d+)m )?(?:(\d+)s)?$/.exec(shown);
  if (duration && /[hms]$/.test(shown)) {
    return Number(duration[1] ?? 0) * 3600 + Number(duration[2] ?? 0) * 60 + Number(duration[3] ?? 0);
  }
  return Number(shown.replace(/[,%+]/g, '').replace('−', '-'));
}

describeIfChromium('dashboard in a real browser', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let profileDir: string;
  let site: CreatedSite;
  let accessToken: string;
  const problems: string[] = [];
  const foreignRequests: string[] = [];

  async function api<T>(path: string, query: Query, token = accessToken): Promise<T> {
    const url = new URL(`/api/v1${path}`, app.url);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, String(value));
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  const overviewOf = (query: Query) => api<{ results: Record<string, MetricValue> }>('/stats/overview', query);

  /** Visits are sessionized after the write; wait until the overview stops changing. */
  async function waitForStableOverview(query: Query): Promise<void> {
    let previous = '';
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = JSON.stringify((await overviewOf(query)).results);
      if (current === previous && (await overviewOf(query)).results.visits.value > 0) return;
      previous = current;
      await sleep(200);
    }
    throw new Error('stats did not settle');
  }

  async function waitForDashboard(statusStart: string): Promise<void> {
    await page.waitForFunction(
      (expected: string) => {
        const view = document.getElementById('dashboard-view');
        const status = document.getElementById('status')?.textContent ?? '';
        return view && !view.hidden && view.getAttribute('aria-busy') === 'false' && status.startsWith(expected);
      },
      { timeout: 45_000 },
      statusStart,
    );
  }

  async function shownOverview(): Promise<Record<string, { value: string; change: string }>> {
    return page.$$eval('#overview .metric', (cards) =>
      Object.fromEntries(
        cards.map((card) => [
          card.getAttribute('data-metric') ?? '',
          {
            value: card.querySelector('.metric-value')?.textContent ?? '',
            change: card.querySelector('.metric-change span')?.textContent ?? '',
          },
        ]),
      ),
    );
  }

  async function shownTable(id: string): Promise<string[][]> {
    return page.$$eval(`[data-breakdown="${id}"] tbody tr`, (rows) =>
      rows.map((row) => [...row.querySelectorAll('th, td')].map((cell) => cell.textContent?.trim() ?? '')),
    );
  }

  async function shownTableHead(id: string): Promise<string[]> {
    return page.$$eval(`[data-breakdown="${id}"] thead th`, (cells) =>
      cells.map((cell) => cell.textContent?.trim() ?? ''),
    );
  }

  /** Conversions per goal as the goal table asks for them, in the breakdown's row shape. */
  async function goalConversions(
    query: Query,
    classification: string | number | undefined,
    metrics: string[],
    token: string,
  ): Promise<{ results: Array<Record<string, unknown>> }> {
    const { siteId, period, from, to } = query;
    const response = await fetch(new URL('/api/v1/stats/query', app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        siteId,
        dateRange: period ? { period } : { from, to },
        classification,
        dimensions: ['goal'],
        metrics,
        limit: TABLE_LIMIT,
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      results: Array<{ dimensions: { goal: string }; metrics: Record<string, number> }>;
    };
    return { results: body.results.map((row) => ({ label: row.dimensions.goal, ...row.metrics })) };
  }

  /** The access token the dashboard itself holds, so the test asks the API as the same user. */
  async function dashboardToken(): Promise<string> {
    const token = await page.evaluate(
      () => (JSON.parse(sessionStorage.getItem('siteline.session') ?? '{}') as { accessToken?: string }).accessToken,
    );
    expect(token).toEqual(expect.any(String));
    return token!;
  }

  /** What the UTM table and the properties table were last set to show on the page. */
  let utmDimension = 'utm_source';
  let propertyKey = '';
  const dimensionShown = (table: Table) =>
    table.id === 'utm'
      ? utmDimension
      : table.id === 'properties'
        ? propertyKey && `prop:${propertyKey}`
        : table.dimension;

  /** One table against GET /stats/breakdown with the query the dashboard uses for it. */
  async function expectTableToMatchApi(table: Table, query: Query, token: string): Promise<void> {
    const classification = table.classification ?? query.classification;
    expect({ table: table.id, head: await shownTableHead(table.id) }).toEqual({
      table: table.id,
      head: [table.column, ...table.heads],
    });
    const dimension = dimensionShown(table);
    if (!dimension) {
      expect(await shownTable(table.id)).toEqual([['Name a property to see its values']]);
      return;
    }
    const answer = table.goals
      ? await goalConversions(query, classification, table.metrics, token)
      : await api<{ results: Array<Record<string, unknown>> }>(
          '/stats/breakdown',
          {
            ...query,
            classification,
            dimension,
            limit: table.valuesOnly ? TABLE_LIMIT + 1 : TABLE_LIMIT,
            metrics: table.metrics.join(','),
            ...(table.filters ? { filters: JSON.stringify(table.filters) } : {}),
          },
          token,
        );
    const rows = table.valuesOnly
      ? answer.results.filter((row) => row.value !== null).slice(0, TABLE_LIMIT)
      : answer.results;
    const expected = rows.map((row) => ({
      label: row.label,
      values: table.metrics.map((metric) => asShown(metric, row[metric] as number | null)),
    }));
    // The seeded traffic must make each table worth comparing: two rows at least, with
    // different numbers, so that rows or columns mixed up change what is shown.
    const distinctNumbers = new Set(expected.map((row) => row.values.join('/'))).size;
    if (distinctNumbers < 2 && !(table.humanOnly && classification === 'BOT')) {
      throw new Error(
        `The seeded traffic gives the ${table.id} table (${dimension}, ${classification}) ${expected.length} rows ` +
          `with ${distinctNumbers} different numbers; it needs two at least.`,
      );
    }
    const shown = (await shownTable(table.id)).map((cells) =>
      cells.length === table.metrics.length + 1
        ? { label: cells[0], values: cells.slice(1).map(parseShown) }
        : { cells },
    );
    expect({ table: table.id, dimension, classification, rows: shown }).toEqual({
      table: table.id,
      dimension,
      classification,
      rows: expected.length > 0 ? expected : [{ cells: ['No data for this range'] }],
    });
  }

  /** Every table row by row, in order: the label as the API names it, the numbers read back. */
  async function expectTablesToMatchApi(query: Query): Promise<void> {
    const shownIds = await page.$$eval('[data-breakdown]', (sections) =>
      sections.map((section) => section.getAttribute('data-breakdown')),
    );
    // A table added to the dashboard must be added here too, or it would go unchecked.
    expect(shownIds).toEqual(TABLES.map((table) => table.id));
    const token = await dashboardToken();
    for (const table of TABLES) await expectTableToMatchApi(table, query, token);
  }

  async function expectDashboardToMatchApi(query: Query): Promise<void> {
    const [shown, overview] = await Promise.all([shownOverview(), overviewOf(query)]);
    for (const metric of [
      'visitors',
      'visits',
      'pageviews',
      'viewsPerVisit',
      'bounceRate',
      'visitDuration',
      'botShare',
    ]) {
      expect({ metric, shown: parseShown(shown[metric].value) }).toEqual({
        metric,
        shown: overview.results[metric].value,
      });
    }
    const change = overview.results.visitors.change;
    expect(parseShown(shown.visitors.change)).toBe(change === null ? null : Math.round(change));

    await expectTablesToMatchApi(query);

    // Both ranges compared span several days: the dashboard charts them by day.
    const series = await api<{ results: Array<{ visitors: number; pageviews: number }> }>('/stats/timeseries', {
      ...query,
      interval: 'day',
      metrics: 'visitors,pageviews',
    });
    const charted = await page.evaluate(() => {
      const chart = window.Chart.getChart(document.getElementById('visitors-chart')!);
      return chart.data.datasets.map((dataset) => dataset.data);
    });
    expect(charted).toEqual([
      series.results.map((point) => point.visitors),
      series.results.map((point) => point.pageviews),
    ]);
  }

  beforeAll(async () => {
    app = await startTestApp({
      env: { ...bootstrapAdminEnv, REVERSE_DNS: 'on' },
      override: (builder) => builder.overrideProvider(REVERSE_DNS_RESOLVER).useValue(fakeReverseDns),
    });
    accessToken = (await loginAsBootstrapAdmin(app.url)).accessToken;
    await createSite(app.url, accessToken, { domain: 'empty.example', name: 'Empty site', timezone: 'UTC' });
    site = await createSite(app.url, accessToken, { domain: 'shop.example', name: 'Demo shop', timezone: TIMEZONE });
    const { key } = await createKey(app.url, accessToken, site.id);
    // Goals, created before any hit: the goal table counts "Signup" and "Download" conversions.
    for (const goal of [{ eventName: 'Signup' }, { eventName: 'Download' }]) {
      const created = await fetch(`${app.url}/api/v1/sites/${site.id}/goals`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(goal),
      });
      expect(created.status).toBe(201);
    }
    const traffic = sampleTraffic(Date.now(), site.domain);
    for (let start = 0; start < traffic.length; start += HITS_PER_REQUEST) {
      const ingest = await fetch(`${app.url}/api/v1/hits`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ hits: traffic.slice(start, start + HITS_PER_REQUEST) }),
      });
      expect(ingest.status).toBe(202);
    }
    // Network domains are filled in after the write, once the (fake) reverse lookups answer.
    await app.app.get(ReverseDnsService).idle();
    await waitForStableOverview({ siteId: site.id, period: '7d' });

    profileDir = mkdtempSync(join(tmpdir(), 'siteline-chromium-'));
    browser = await launchChromium(profileDir);
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn')
        problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(app.url) && !request.url().startsWith('data:')) foreignRequests.push(request.url());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await app?.close();
  });

  it('serves the shell with a strict Content-Security-Policy and Chart.js from the app itself', async () => {
    const shell = await fetch(`${app.url}/`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-type')).toContain('text/html');
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(shell.headers.get('content-security-policy')).not.toContain('unsafe-');
    const chart = await fetch(`${app.url}/assets/vendor/chart.umd.min.js`);
    expect(chart.status).toBe(200);
    expect(await chart.text()).toContain('Chart');
    expect((await fetch(`${app.url}/assets/missing.js`)).status).toBe(404);
  });

  it('logs in with the keyboard alone', async () => {
    await page.goto(app.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#login-form', { visible: true });
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('autocomplete'));
    expect(await focused()).toBe('username');
    await page.keyboard.type(BOOTSTRAP_ADMIN.email);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('current-password');
    await page.keyboard.type(BOOTSTRAP_ADMIN.password);
    await page.keyboard.press('Enter');
    await waitForDashboard('Last 7 days');
    expect(await page.$eval('#account-email', (node) => node.textContent)).toBe(BOOTSTRAP_ADMIN.email);
  });

  it('shows the numbers the API returns for the picked site and range', async () => {
    // Picking a site marks the figures stale in the same event: until the new site's statistics
    // arrive, nothing on the page may read as current (nor satisfy waitForDashboard too early).
    const picker = await page.$('::-p-aria(Site)');
    const justAfterPick = await picker!.evaluate((node, id) => {
      const select = node as unknown as { value: string; dispatchEvent(event: Event): boolean };
      select.value = id;
      select.dispatchEvent(new Event('change', { bubbles: true }));
      return {
        busy: document.getElementById('dashboard-view')?.getAttribute('aria-busy'),
        status: document.getElementById('status')?.textContent,
      };
    }, site.id);
    expect(justAfterPick).toEqual({ busy: 'true', status: 'Loading…' });
    await waitForDashboard('Last 7 days');
    expect(await page.$eval('#status', (node) => node.textContent)).toContain(TIMEZONE);
    await page.select('::-p-aria(Date range)', '30d');
    await waitForDashboard('Last 30 days');
    await expectDashboardToMatchApi({ siteId: site.id, period: '30d', classification: 'USER' });

    const shown = await shownOverview();
    expect(parseShown(shown.visitors.value)).toBeGreaterThan(0);
    expect(await shownTable('pages')).toEqual(expect.arrayContaining([expect.arrayContaining(['/pricing'])]));

    const realtime = await api<{ visitors: number }>('/stats/realtime', { siteId: site.id });
    const shownRealtime = parseShown(await page.$eval('#realtime-count', (node) => node.textContent ?? ''));
    expect(shownRealtime).toBeGreaterThan(0);
    expect(shownRealtime).toBe(realtime.visitors);
  });

  it('applies a custom range and each traffic toggle', async () => {
    const from = dateIn(TIMEZONE, -2);
    const to = dateIn(TIMEZONE, 0);
    await page.select('::-p-aria(Date range)', 'custom');
    await page.$eval('::-p-aria(From)', (input, value) => ((input as unknown as PageElement).value = value), from);
    await page.$eval('::-p-aria(To)', (input, value) => ((input as unknown as PageElement).value = value), to);
    await page.click('::-p-aria(Apply range)');
    await waitForDashboard(`${from} to ${to}`);
    await expectDashboardToMatchApi({ siteId: site.id, from, to, classification: 'USER' });

    await page.click('::-p-aria(Bots)');
    await waitForDashboard(`${from} to ${to}`);
    expect(await page.$eval('::-p-aria(Bots)', (button) => button.getAttribute('aria-pressed'))).toBe('true');
    await expectDashboardToMatchApi({ siteId: site.id, from, to, classification: 'BOT' });

    await page.click('::-p-aria(All)');
    await waitForDashboard(`${from} to ${to}`);
    expect(await page.$eval('::-p-aria(All)', (button) => button.getAttribute('aria-pressed'))).toBe('true');
    await expectDashboardToMatchApi({ siteId: site.id, from, to, classification: 'ALL' });

    await page.click('::-p-aria(Humans)');
    await waitForDashboard(`${from} to ${to}`);
    expect(await page.$eval('::-p-aria(Humans)', (button) => button.getAttribute('aria-pressed'))).toBe('true');
    await expectDashboardToMatchApi({ siteId: site.id, from, to, classification: 'USER' });
  });

  it('shows the UTM parameter picked and the values of the property named', async () => {
    const query = { siteId: site.id, period: '7d', classification: 'USER' };
    const token = await dashboardToken();
    const table = (id: string) => TABLES.find((candidate) => candidate.id === id)!;
    /** Waits until the table shows rows for the dimension it was just set to (not the old ones). */
    const waitForTable = (id: string, firstLabel: string) =>
      page.waitForFunction(
        (selector: string, label: string) =>
          (document as unknown as { querySelector(s: string): PageElement | null }).querySelector(selector)
            ?.textContent === label,
        { timeout: 15_000 },
        `[data-breakdown="${id}"] tbody tr:first-child th`,
        firstLabel,
      );

    await page.select('::-p-aria(Date range)', '7d');
    await waitForDashboard('Last 7 days');
    for (const [dimension, firstLabel] of [
      ['utm_medium', 'email'],
      ['utm_campaign', 'spring'],
      ['utm_term', 'shoes'],
      ['utm_content', 'header'],
      ['utm_source', 'newsletter'],
    ]) {
      await page.select('::-p-aria(UTM parameter)', dimension);
      utmDimension = dimension;
      await waitForTable('utm', firstLabel);
      await expectTableToMatchApi(table('utm'), query, token);
    }

    await page.type('::-p-aria(Property name)', 'plan');
    await page.keyboard.press('Enter');
    propertyKey = 'plan';
    await waitForTable('properties', 'pro');
    await expectTableToMatchApi(table('properties'), query, token);
    await expectTablesToMatchApi(query);
    await page.evaluate(() => document.activeElement?.blur());
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-panels.png'), fullPage: true });
  });

  it('keeps the session across a reload and fits a 375px-wide screen', async () => {
    await page.setViewport({ width: 1280, height: 900 });
    await page.reload({ waitUntil: 'domcontentloaded' });
    await waitForDashboard('Last 7 days');
    await page.evaluate(() => document.activeElement?.blur());
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard.png'), fullPage: true });

    // Switching to a mobile viewport makes Chromium reload the page.
    await page.setViewport({ width: 375, height: 812, isMobile: true });
    await waitForDashboard('Last 7 days');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-375.png'), fullPage: true });
  });

  interface StoredSession {
    accessToken: string;
    refreshToken: string;
    expiresAt: number;
  }

  const storedSession = () =>
    page.evaluate(() => JSON.parse(sessionStorage.getItem('siteline.session') ?? 'null') as StoredSession | null);

  async function reloadWithSession(change: Partial<StoredSession>): Promise<void> {
    await page.evaluate((fields) => {
      const stored = JSON.parse(sessionStorage.getItem('siteline.session') ?? '{}') as Record<string, unknown>;
      sessionStorage.setItem('siteline.session', JSON.stringify({ ...stored, ...fields }));
    }, change);
    await page.reload({ waitUntil: 'domcontentloaded' });
    await waitForDashboard('Last 7 days');
  }

  it('refreshes the access token ahead of its expiry, rotating the refresh token', async () => {
    await page.setViewport({ width: 1280, height: 900 });
    await waitForDashboard('Last 7 days');
    const before = await storedSession();
    await reloadWithSession({ expiresAt: Date.now() });
    const after = await storedSession();
    expect(after?.refreshToken).toEqual(expect.any(String));
    expect(after?.refreshToken).not.toBe(before?.refreshToken);
    expect(after!.expiresAt).toBeGreaterThan(Date.now());
  });

  it('recovers from a rejected access token with a single refresh shared by the parallel requests', async () => {
    const before = await storedSession();
    const problemsBefore = problems.length;
    await reloadWithSession({ accessToken: 'not-a-valid-token', expiresAt: Date.now() + 600_000 });
    const after = await storedSession();
    expect(after?.refreshToken).not.toBe(before?.refreshToken);
    // Two refreshes with the same token would revoke the family (reuse) and sign the user out:
    // the dashboard loading at all shows the parallel 401s shared one refresh.
    expect(
      parseShown(await page.$eval('[data-metric="visitors"] .metric-value', (node) => node.textContent ?? '')),
    ).toBeGreaterThan(0);
    // Chromium logs each 401 response itself; those are expected here, nothing else is.
    const added = problems.splice(problemsBefore);
    expect(added.filter((problem) => !/status of 401/.test(problem))).toEqual([]);
  });

  it('logs out with the keyboard, revoking the refresh token', async () => {
    const session = await storedSession();
    await page.focus('::-p-aria(Log out)');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#login-form', { visible: true });
    expect(await storedSession()).toBeNull();
    const refresh = await fetch(`${app.url}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refreshToken: session?.refreshToken }),
    });
    expect(refresh.status).toBe(401);
  });

  it('made no console errors and no requests to other origins', () => {
    expect(problems).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});
