/**
 * The allow-list of dimensions a stats query may group or filter by, and where each one lives.
 * Hit-level dimensions are fields of a hit; visit-level ones (entry/exit page) are fields of the
 * visit the hit belongs to. Nothing outside this table can reach a pipeline.
 */
export const DIMENSIONS = [
  'page',
  'entry_page',
  'exit_page',
  'referrer',
  'source',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'country',
  'region',
  'city',
  'browser',
  'os',
  'device',
  'page_host',
  'network_domain',
  'classification',
  'bot_reason',
  'event_name',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** Accepted spellings that map onto a canonical dimension name. */
export const DIMENSION_ALIASES: Readonly<Record<string, Dimension>> = { event: 'event_name' };

export type DimensionLevel = 'hit' | 'visit';

interface DimensionSource {
  level: DimensionLevel;
  /** Field on the hit (level `hit`) or on the visit (level `visit`). */
  field: string;
}

export const DIMENSION_SOURCES: Readonly<Record<Dimension, DimensionSource>> = {
  page: { level: 'hit', field: 'path' },
  entry_page: { level: 'visit', field: 'entryPath' },
  exit_page: { level: 'visit', field: 'exitPath' },
  referrer: { level: 'hit', field: 'referrer' },
  source: { level: 'hit', field: 'source' },
  utm_source: { level: 'hit', field: 'utmSource' },
  utm_medium: { level: 'hit', field: 'utmMedium' },
  utm_campaign: { level: 'hit', field: 'utmCampaign' },
  country: { level: 'hit', field: 'countryCode' },
  region: { level: 'hit', field: 'region' },
  city: { level: 'hit', field: 'city' },
  browser: { level: 'hit', field: 'browser' },
  os: { level: 'hit', field: 'os' },
  device: { level: 'hit', field: 'device' },
  page_host: { level: 'hit', field: 'host' },
  network_domain: { level: 'hit', field: 'networkDomain' },
  classification: { level: 'hit', field: 'classification' },
  bot_reason: { level: 'hit', field: 'botReason' },
  event_name: { level: 'hit', field: 'name' },
};

export function canonicalDimension(name: string): Dimension | undefined {
  if ((DIMENSIONS as readonly string[]).includes(name)) return name as Dimension;
  return DIMENSION_ALIASES[name];
}

export function dimensionLevel(dimension: Dimension): DimensionLevel {
  return DIMENSION_SOURCES[dimension].level;
}
