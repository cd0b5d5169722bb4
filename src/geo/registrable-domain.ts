/**
 * Second-level labels under which registries sell names one level deeper (`example.co.uk`).
 * A deliberately small public-suffix list: the network domain is a grouping label for
 * breakdowns, and these cover the reverse-DNS names seen in practice. An unknown multi-part
 * suffix groups one level too high (`isp.example.xy` style), which is harmless for a breakdown.
 */
const TWO_PART_SUFFIXES = new Set([
  'ac.jp',
  'ac.uk',
  'ac.nz',
  'ac.za',
  'co.id',
  'co.il',
  'co.in',
  'co.jp',
  'co.kr',
  'co.nz',
  'co.th',
  'co.uk',
  'co.za',
  'com.ar',
  'com.au',
  'com.br',
  'com.cn',
  'com.co',
  'com.hk',
  'com.mx',
  'com.my',
  'com.pl',
  'com.sg',
  'com.tr',
  'com.tw',
  'com.ua',
  'com.vn',
  'edu.au',
  'gov.uk',
  'ne.jp',
  'net.au',
  'net.br',
  'net.cn',
  'net.in',
  'net.nz',
  'net.pl',
  'net.ua',
  'or.jp',
  'org.au',
  'org.br',
  'org.nz',
  'org.uk',
  'ltd.uk',
  'plc.uk',
  'me.uk',
  'gob.mx',
]);

/** `crawl-66-249-66-1.googlebot.com.` → `googlebot.com`; `host.bt.co.uk` → `bt.co.uk`; IP literals → null. */
export function registrableDomain(hostname: string): string | null {
  const name = hostname.trim().toLowerCase().replace(/\.$/, '');
  if (name === '' || /^[\d.]+$/.test(name) || name.includes(':')) return null;
  const labels = name.split('.').filter((label) => label !== '');
  if (labels.length < 2) return null;
  const lastTwo = labels.slice(-2).join('.');
  if (TWO_PART_SUFFIXES.has(lastTwo)) return labels.length >= 3 ? labels.slice(-3).join('.') : null;
  return lastTwo;
}
