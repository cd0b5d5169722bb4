import { BadRequestException } from '@nestjs/common';

/**
 * The allow-list of dimensions a stats query may group or filter by, and where each one lives.
 * Hit-level dimensions are fields of a hit; visit-level ones are fields of the visit the hit
 * belongs to: entry/exit page, and the traffic source (source, referrer, UTM parameters), which
 * a visit takes from its first hit, so that every hit of a visit counts under the source the
 * visitor arrived from (as in Plausible and Google Analytics). Besides these, `prop:<key>` names
 * one custom-event property (see `propDimension`). Nothing else can reach a pipeline.
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
  'utm_term',
  'utm_content',
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
  // The visit's attribution fields (VISIT_ATTRIBUTION_FIELDS) bear the names of the hit's.
  referrer: { level: 'visit', field: 'referrer' },
  source: { level: 'visit', field: 'source' },
  utm_source: { level: 'visit', field: 'utmSource' },
  utm_medium: { level: 'visit', field: 'utmMedium' },
  utm_campaign: { level: 'visit', field: 'utmCampaign' },
  utm_term: { level: 'visit', field: 'utmTerm' },
  utm_content: { level: 'visit', field: 'utmContent' },
  // Place and device stay hit-level: Plausible takes them from the session too, but a visitor's
  // hits of one visit practically always share them, and hit-level they keep their rollups.
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

/** The visit-level dimensions, in allow-list order. */
export const VISIT_DIMENSIONS: readonly Dimension[] = DIMENSIONS.filter(
  (dimension) => DIMENSION_SOURCES[dimension].level === 'visit',
);

/** What a visit-level dimension means, for the API descriptions (docs/metrics.md has the rest). */
export const VISIT_DIMENSIONS_DESCRIPTION =
  `${VISIT_DIMENSIONS.join(', ')} are attributes of the visit (its first hit; the exit page its last page view): ` +
  'every hit of a visit counts under its visit’s values, so a visitor arriving from a newsletter counts under the ' +
  'newsletter for all their pages. The other dimensions take each hit’s own value.';

/** One custom-event property as a dimension: `prop:plan` groups or filters by `props.plan` of hits. */
export type PropDimension = `prop:${string}`;
/** Any dimension a query may name: a fixed one, or a property. */
export type QueryDimension = Dimension | PropDimension;

export const PROP_PREFIX = 'prop:';
const MAX_PROP_KEY_LENGTH = 64;
// No `$` first and no `.`: the ingest API refuses such keys, and in a field path they would be
// read as an operator or a nested path. No control characters (NUL ends a BSON key).
const PROP_KEY = /^(?!\$)[^.\p{Cc}]{1,64}$/u;

export function isPropDimension(dimension: QueryDimension): dimension is PropDimension {
  return dimension.startsWith(PROP_PREFIX);
}

export function propKey(dimension: PropDimension): string {
  return dimension.slice(PROP_PREFIX.length);
}

export function canonicalDimension(name: string): Dimension | undefined {
  if ((DIMENSIONS as readonly string[]).includes(name)) return name as Dimension;
  return DIMENSION_ALIASES[name];
}

/**
 * A dimension named by a caller, checked: a known name (or alias), or `prop:<key>` with a key of
 * 1–64 characters that does not start with `$` and holds no `.` or control character. Anything
 * else is a 400 naming `parameter`.
 */
export function parseDimension(name: unknown, parameter: string): QueryDimension {
  if (typeof name === 'string' && name.startsWith(PROP_PREFIX)) {
    if (!PROP_KEY.test(name.slice(PROP_PREFIX.length))) {
      throw new BadRequestException(
        `${parameter}: a property key must be 1–${MAX_PROP_KEY_LENGTH} characters, not start with $ and not contain . or control characters`,
      );
    }
    return name as PropDimension;
  }
  const dimension = typeof name === 'string' ? canonicalDimension(name) : undefined;
  if (!dimension) {
    throw new BadRequestException(`${parameter} must be one of: ${DIMENSIONS.join(', ')}, or prop:<key>`);
  }
  return dimension;
}

/** Where a dimension's value lives; a property is the hit's `props.<key>` (its key checked by `parseDimension`). */
export function dimensionSource(dimension: QueryDimension): DimensionSource {
  if (isPropDimension(dimension)) return { level: 'hit', field: `props.${propKey(dimension)}` };
  return DIMENSION_SOURCES[dimension];
}

export function dimensionLevel(dimension: QueryDimension): DimensionLevel {
  return dimensionSource(dimension).level;
}

/**
 * Whether a rollup could hold this dimension at all. Properties never are (their keys are the
 * site's own): a query naming one is answered from raw hits, decided in one place (StatsEngine).
 */
export function isFixedDimension(dimension: QueryDimension): dimension is Dimension {
  return !isPropDimension(dimension);
}
