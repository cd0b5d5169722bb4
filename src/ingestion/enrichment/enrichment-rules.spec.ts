import { describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import type { GeoLookupService } from '../../geo/geo-lookup.service.js';
import type { ReverseDnsService } from '../../geo/reverse-dns.service.js';
import type { SessionsService } from '../../sessions/sessions.service.js';
import type { SiteView } from '../../sites/site-view.js';
import { classifyUserAgent } from './bot-classifier.js';
import { EnrichmentService } from './enrichment.service.js';
import { normalisePageUrl, normaliseReferrer } from './url-normalizer.js';
import { UserAgentParser } from './user-agent-parser.js';

const GOOGLEBOT_SMARTPHONE =
  'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.92 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0';
const IPAD =
  'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

describe('classifyUserAgent', () => {
  it('gives each enriched hit the verdict of its own user agent, however often each repeats', () => {
    const enrichment = new EnrichmentService(
      { lookup: () => ({ countryCode: null, region: null, city: null }) } as unknown as GeoLookupService,
      { cached: () => undefined } as unknown as ReverseDnsService,
      { visitorKey: () => 'f'.repeat(32) } as unknown as SessionsService,
    );
    const site = { id: new Types.ObjectId().toHexString(), domain: 'shop.example' } as SiteView;
    // Alike at first and last, different in between: a verdict is the user agent's, not a prefix's.
    const agents = [FIREFOX, GOOGLEBOT_SMARTPHONE, `${FIREFOX} HeadlessChrome`, '', FIREFOX, GOOGLEBOT_SMARTPHONE, ''];
    const verdicts = [...agents, ...agents].map((userAgent) => {
      const hit = enrichment.enrich(site, { url: '/', userAgent, ip: '203.0.113.9', ts: new Date() }, new Date());
      return { classification: hit?.classification, botReason: hit?.botReason };
    });
    expect(verdicts).toEqual([...agents, ...agents].map(classifyUserAgent));
  });

  it.each([
    [GOOGLEBOT_SMARTPHONE, 'BOT', 'isbot'],
    ['', 'BOT', 'empty-user-agent'],
    ['   ', 'BOT', 'empty-user-agent'],
    ['curl/8.4.0', 'BOT', 'isbot'],
    [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36 puppeteer',
      'BOT',
      'headless',
    ],
    ['Mozilla/5.0 (compatible) SlimerJS/1.0', 'BOT', 'headless'],
    [FIREFOX, 'USER', null],
    [IPAD, 'USER', null],
  ])('%s → %s (%s)', (ua, classification, botReason) => {
    expect(classifyUserAgent(ua)).toEqual({ classification, botReason });
  });

  it('leaves plain HTTP client user agents to isbot', () => {
    for (const ua of ['Wget/1.21.3', 'python-requests/2.31.0', 'Go-http-client/1.1', 'axios/1.6.7', 'okhttp/4.12.0']) {
      expect(classifyUserAgent(ua)).toEqual({ classification: 'BOT', botReason: 'isbot' });
    }
  });

  it('classifies an HTTP client that borrows browser tokens isbot accepts as automation-tool', () => {
    const ua = 'axios/1.7 (Windows NT 10.0) Chrome/120 Safari/537.36';
    expect(classifyUserAgent(ua)).toEqual({ classification: 'BOT', botReason: 'automation-tool' });
  });
});

describe('UserAgentParser', () => {
  const parser = new UserAgentParser(2);
  it('reads browser, OS and device type; desktop when the parser names no type', () => {
    expect(parser.parse(FIREFOX)).toEqual({ browser: 'Firefox', os: 'Windows', device: 'desktop' });
    expect(parser.parse(IPAD)).toMatchObject({ os: 'iOS', device: 'tablet' });
    expect(parser.parse(GOOGLEBOT_SMARTPHONE)).toMatchObject({ os: 'Android', device: 'mobile' });
    expect(parser.parse(FIREFOX)).toEqual({ browser: 'Firefox', os: 'Windows', device: 'desktop' });
  });
});

describe('normalisePageUrl', () => {
  it('keeps host and path, drops query and fragment but keeps utm_* tags', () => {
    expect(
      normalisePageUrl('https://WWW.Example.com/pricing/?utm_source=news&utm_medium=email&x=1#top', 'example.com'),
    ).toEqual({
      host: 'example.com',
      path: '/pricing',
      utmSource: 'news',
      utmMedium: 'email',
      utmCampaign: null,
      utmTerm: null,
      utmContent: null,
    });
  });

  it('takes the site domain for a bare path and keeps the root slash', () => {
    expect(normalisePageUrl('/', 'site.test')).toMatchObject({ host: 'site.test', path: '/' });
    expect(normalisePageUrl('blog/post?id=3', 'site.test')).toMatchObject({ host: 'site.test', path: '/blog/post' });
  });

  it('refuses non-http schemes', () => {
    expect(normalisePageUrl('javascript://alert(1)', 'site.test')).toBeNull();
  });
});

describe('normaliseReferrer', () => {
  it('drops the query and treats the own host as no referrer', () => {
    expect(normaliseReferrer('https://www.Google.com/search?q=secret', 'example.com')).toEqual({
      referrer: 'https://www.google.com/search',
      referrerHost: 'google.com',
    });
    expect(normaliseReferrer('https://example.com/other', 'example.com')).toEqual({
      referrer: null,
      referrerHost: null,
    });
    expect(normaliseReferrer('not a url', 'example.com')).toEqual({ referrer: null, referrerHost: null });
  });
});
