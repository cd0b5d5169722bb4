import { isbot } from 'isbot';
import type { Classification } from '../../hits/hit.schema.js';

export interface BotVerdict {
  classification: Classification;
  botReason: string | null;
}

const HEADLESS = /headless|phantomjs|puppeteer|playwright|selenium|webdriver|slimerjs/i;
/**
 * HTTP client libraries. isbot already classifies their own user agents (curl, wget,
 * python-requests, Go-http-client, axios, okhttp, PostmanRuntime…), so this reason only
 * appears for a user agent that starts with a client's name yet carries browser tokens isbot
 * lets through (`axios/1.7 (Windows NT 10.0) Chrome/120 Safari/537.36`), and keeps the plain
 * ones BOT should isbot's list change.
 */
const AUTOMATION_TOOL =
  /^(curl|wget|python-|python\/|aiohttp|httpx|go-http-client|axios|node-fetch|undici|okhttp|java\/|apache-httpclient|libwww-perl|ruby|php\/|guzzlehttp|postmanruntime|insomnia|httpie)/i;

const USER: BotVerdict = { classification: 'USER', botReason: null };

/**
 * isbot first (its reason is `isbot`), then our heuristics for what it does not cover. Each
 * verdict keeps its reason so bot filtering stays explainable in breakdowns.
 */
export function classifyUserAgent(userAgent: string): BotVerdict {
  const ua = userAgent.trim();
  if (ua === '') return { classification: 'BOT', botReason: 'empty-user-agent' };
  if (isbot(ua)) return { classification: 'BOT', botReason: 'isbot' };
  if (HEADLESS.test(ua)) return { classification: 'BOT', botReason: 'headless' };
  if (AUTOMATION_TOOL.test(ua)) return { classification: 'BOT', botReason: 'automation-tool' };
  return USER;
}
