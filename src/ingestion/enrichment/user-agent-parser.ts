import { UAParser } from 'ua-parser-js';
import { LruCache } from '../../common/collections/lru-cache.js';

export interface DeviceInfo {
  browser: string | null;
  os: string | null;
  /** desktop | mobile | tablet | tv | console | wearable | embedded | unknown */
  device: string;
}

const EMPTY: DeviceInfo = { browser: null, os: null, device: 'unknown' };

/**
 * ua-parser-js 1.x (MIT). Parsing costs tens of microseconds while real traffic repeats a few
 * hundred user agents, so results are cached by the exact string in a bounded LRU.
 */
export class UserAgentParser {
  private readonly cache: LruCache<string, DeviceInfo>;

  constructor(capacity = 1000) {
    this.cache = new LruCache(capacity);
  }

  parse(userAgent: string): DeviceInfo {
    if (userAgent === '') return EMPTY;
    return this.cache.getOrCompute(userAgent, deviceOf);
  }
}

function deviceOf(userAgent: string): DeviceInfo {
  const result = new UAParser(userAgent).getResult();
  return {
    browser: result.browser.name ?? null,
    os: result.os.name ?? null,
    // ua-parser leaves the type empty for desktops (it only names the exceptions).
    device: result.device.type ?? (result.os.name || result.browser.name ? 'desktop' : 'unknown'),
  };
}
