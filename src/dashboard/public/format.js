// Display rules shared by the overview cards, the tables and the chart, so each number is shown
// the same way everywhere (and the browser test can reproduce it).
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 0, maximumFractionDigits: 2 });

export function formatInteger(value) {
  return value === null || value === undefined ? '–' : integer.format(value);
}

export function formatDecimal(value) {
  return value === null || value === undefined ? '–' : decimal.format(value);
}

/** `value` is a percentage (0–100). */
export function formatPercent(value) {
  return value === null || value === undefined ? '–' : `${decimal.format(Math.round(value * 10) / 10)}%`;
}

/** Seconds as `45s`, `3m 07s` or `1h 02m`. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  return hours > 0 ? `${hours}h ${String(minutes).padStart(2, '0')}m` : `${minutes}m ${String(rest).padStart(2, '0')}s`;
}

/** A change in percent against the previous period; null when there is nothing to compare with. */
export function formatChange(change) {
  if (change === null || change === undefined || !Number.isFinite(change)) return '–';
  const rounded = Math.round(change);
  if (rounded === 0) return '0%';
  return `${rounded > 0 ? '+' : '−'}${integer.format(Math.abs(rounded))}%`;
}
