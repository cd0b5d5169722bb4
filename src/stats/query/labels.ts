import { countryName } from '../../geo/country-name.js';
import type { Dimension } from './dimensions.js';

const NO_SOURCE: ReadonlySet<Dimension> = new Set(['referrer', 'source', 'utm_source', 'utm_medium', 'utm_campaign']);

/**
 * How a dimension value is shown: countries by English name, missing traffic sources as
 * `Direct / None` (Plausible's wording), any other missing value as `Unknown`.
 */
export function dimensionLabel(dimension: Dimension, value: string | null): string {
  if (dimension === 'country') return countryName(value);
  if (value !== null && value !== '') return value;
  return NO_SOURCE.has(dimension) ? 'Direct / None' : 'Unknown';
}
