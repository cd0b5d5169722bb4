import { countryName } from '../../geo/country-name.js';
import { isPropDimension, type Dimension, type QueryDimension } from './dimensions.js';

const NO_SOURCE: ReadonlySet<QueryDimension> = new Set<Dimension>([
  'referrer',
  'source',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
]);

/**
 * How a dimension value is shown: countries by English name, missing traffic sources as
 * `Direct / None` and a hit without the property as `(none)` (Plausible's wording), any other
 * missing value as `Unknown`.
 */
export function dimensionLabel(dimension: QueryDimension, value: string | null): string {
  if (dimension === 'country') return countryName(value);
  if (value !== null && value !== '') return value;
  if (isPropDimension(dimension)) return '(none)';
  return NO_SOURCE.has(dimension) ? 'Direct / None' : 'Unknown';
}
